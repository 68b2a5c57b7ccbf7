#!/usr/bin/env bash
# Runs the whole test suite: builds everything (debug), then runs the tests.
# The multi-process and CLI tests start the built executables, so the build comes first.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
swift build --build-tests
swift test --skip-build
