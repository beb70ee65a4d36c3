#!/bin/sh
# test.sh -- install dependencies, build, and run the whole default suite.
# Ends with "N passed, N failed".
set -e
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
cd build
set +e
ctest -j2 --output-on-failure --timeout 600 >ctest.log 2>&1
rc=$?
cat ctest.log
passed=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .* Passed' ctest.log)
failed=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*(\*\*\*|Failed|Timeout|Not Run|Exception)' ctest.log)
echo "$passed passed, $failed failed"
exit $rc
