#!/usr/bin/env bash
# Runs the test suite: builds everything (debug), then the three test targets in turn.
#   ./scripts/test.sh            all of them (what CI runs)
#   ./scripts/test.sh unit       no processes; about ten seconds after the build
#   ./scripts/test.sh process    the real executables as processes, in parallel
#   ./scripts/test.sh long       soak, systemd sandbox, browser, schemathesis, the full trading day — one at a time
# The long tests run serially: each of them starts a whole system of processes, and two cores shared by
# several such systems at once turn their deadlines into lotteries. Every phase runs even when an
# earlier one failed, so one run shows every failure; the exit status is non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
swift build --build-tests || exit 1

phases=("${@:-unit process long}")
phases=(${phases[*]})
failed=()
for phase in "${phases[@]}"; do
    case "$phase" in
        unit) target=AutoTraderUnitTests; mode=() ;;
        process) target=AutoTraderProcessTests; mode=() ;;
        long) target=AutoTraderLongTests; mode=(--no-parallel) ;;
        *) echo "unknown phase $phase (unit, process or long)" >&2; exit 2 ;;
    esac
    echo "=== $target ${mode[*]:-(in parallel)} ==="
    start=$SECONDS
    if swift test --skip-build "${mode[@]}" --filter "^$target\\."; then
        echo "=== $target passed in $((SECONDS - start)) s ==="
    else
        echo "=== $target FAILED after $((SECONDS - start)) s ===" >&2
        failed+=("$target")
    fi
done
if ((${#failed[@]})); then
    echo "failed: ${failed[*]}" >&2
    exit 1
fi
echo "all passed: ${phases[*]}"
