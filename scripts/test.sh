#!/usr/bin/env bash
# Runs the test suite: builds everything (debug), then the three test targets in turn.
#   ./scripts/test.sh            all of them (what CI runs)
#   ./scripts/test.sh unit       no processes; about ten seconds after the build
#   ./scripts/test.sh process    the real executables as processes, in parallel
#   ./scripts/test.sh long       soak, systemd sandbox, browser, schemathesis, the full trading day — one at a time
# The long tests run serially: each of them starts a whole system of processes, and two cores shared by
# several such systems at once turn their deadlines into lotteries. Every phase runs even when an
# earlier one failed, so one run shows every failure; the exit status is non-zero if any failed.
# Each phase has a time limit (unit 10 min, process 15 min, long 40 min: several times what they take). A
# phase past it is a failure, not a wait: the script names the tests that started and never finished, shows
# what the test process was running and where its threads were, and kills it, so the run still ends
# (within CI's window) and says why.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
swift build --build-tests || exit 1

# Every process below `pid`, deepest first.
descendants() {
    local child
    for child in $(pgrep -P "$1"); do
        descendants "$child"
        echo "$child"
    done
}

# What a phase that ran out of time was doing; then it is killed.
report_overrun() {
    local pid=$1 log=$2 limit=$3
    echo >&2
    echo "=== $target ran past its limit of $limit s; tests started and not finished: ===" >&2
    awk '/◇ Test .* started\./ && !/◇ Test case passing/ && !/◇ Test run started/ { name = $0; sub(/.*◇ Test /, "", name); sub(/ started\..*/, "", name); open[name] = 1 }
         /[✔✘] Test .* (passed|failed)/ { name = $0; sub(/.*[✔✘] Test /, "", name); sub(/ with [0-9]+ test cases? (passed|failed).*/, "", name); sub(/ (passed|failed).*/, "", name); delete open[name] }
         END { for (name in open) print "  " name }' "$log" >&2
    echo "=== processes it had started: ===" >&2
    local all
    all=$(descendants "$pid")
    [ -n "$all" ] && ps -o pid,etimes,args -p "$(echo $all | tr ' ' ',')" >&2
    local tests
    tests=$(for each in $all; do ps -o args= -p "$each" | grep -q 'AutoTraderPackageTests.xctest' && echo "$each"; done | head -1)
    if [ -n "$tests" ] && command -v gdb >/dev/null; then
        echo "=== the test process's threads (innermost frames) ===" >&2
        timeout 60 gdb -p "$tests" -batch -ex "thread apply all bt 12" 2>/dev/null | grep -E '^Thread|^#.*(AutoTrader|Process|wait|recv|poll|sleep)' | cut -c1-220 >&2
    fi
    kill -9 $all "$pid" 2>/dev/null
}

if [[ -n "${AUTOTRADER_TEST_LIMIT:-}" && ! "$AUTOTRADER_TEST_LIMIT" =~ ^[1-9][0-9]*$ ]]; then
    echo "AUTOTRADER_TEST_LIMIT must be a whole number of seconds, not '$AUTOTRADER_TEST_LIMIT'" >&2
    exit 2
fi

phases=("${@:-unit process long}")
phases=(${phases[*]})
failed=()
for phase in "${phases[@]}"; do
    case "$phase" in
        unit) target=AutoTraderUnitTests; mode=(); limit=600 ;;
        process) target=AutoTraderProcessTests; mode=(); limit=900 ;;
        long) target=AutoTraderLongTests; mode=(--no-parallel); limit=2400 ;;
        *) echo "unknown phase $phase (unit, process or long)" >&2; exit 2 ;;
    esac
    limit=${AUTOTRADER_TEST_LIMIT:-$limit} # a shorter one shows the watchdog at work
    echo "=== $target ${mode[*]:-(in parallel)} ==="
    start=$SECONDS
    log=$(mktemp)
    swift test --skip-build "${mode[@]}" --filter "^$target\\." > >(tee "$log") 2>&1 &
    pid=$!
    # A watchdog's poll, not a wait for a result: the test run is waited for below.
    while kill -0 "$pid" 2>/dev/null && ((SECONDS - start < limit)); do sleep 2; done
    kill -0 "$pid" 2>/dev/null && report_overrun "$pid" "$log" "$limit"
    wait "$pid"
    status=$?
    rm -f "$log"
    if ((status == 0)); then
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
