#!/bin/sh
# quickstart.sh -- install dependencies, build, and run the main job (demo.sh).
set -e
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
scripts/demo.sh
