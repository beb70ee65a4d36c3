#!/bin/sh
# build.sh -- configure and build into ./build (warnings are errors).
set -e
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFAMS_WERROR=ON >/dev/null
cmake --build build -j"$(nproc)"
