#!/usr/bin/env bash
# deploy-sandbox-test.sh BIN_DIR — deploy.sh for real, under a real systemd (PID 1 in private namespaces,
# booted by scripts/systemd-sandbox, or $AUTOTRADER_SYSTEMD_SANDBOX), with the executables in BIN_DIR
# (deploy.sh --prebuilt: no release build). Checks: install in simulated mode, every unit active, the
# config 0600, the dashboard answers, journald priorities, a card created through the api (with the PIN)
# trades, SIGKILL of each service → restarted by systemd with nothing lost (the simulator's fills and
# system.db's transactions are the same set, `autotrader reconcile` agrees, stocks.db equals the
# simulator's bars), a silent watchdog → restarted, an upgrade that migrates system.db keeps every
# transaction (after an online backup), a second run changes nothing, --uninstall keeps the data, and
# without systemd as PID 1 deploy.sh runs the services in the foreground, all of them stopped by a SIGTERM
# to deploy.sh.
# Exit 0: passed; 77: skipped (says why); anything else: failed.
# Needs root. Called by Tests/AutoTraderLongTests/DeploySandboxTests.swift.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$(cd "${1:?usage: deploy-sandbox-test.sh BIN_DIR}" && pwd)
SANDBOX=${AUTOTRADER_SYSTEMD_SANDBOX:-$REPO/scripts/systemd-sandbox}
skip() { echo "SKIP: $*"; exit 77; }
[ -x "$SANDBOX" ] || skip "no systemd sandbox tool at $SANDBOX"
[ "$(id -u)" -eq 0 ] || skip "the systemd sandbox needs root"
[ -x /lib/systemd/systemd ] || skip "systemd is not installed (apt-get install systemd)"
for tool in sqlite3 curl python3 unshare nsenter; do command -v $tool >/dev/null || skip "$tool is not installed"; done
[ -x "$BIN/autotrader-api" ] || { echo "FAILED: no autotrader-api in $BIN"; exit 1; }

S=$(mktemp -d /tmp/autotrader-sandbox.XXXXXX)
SHARE=$(mktemp -d /tmp/autotrader-sandbox-share.XXXXXX)   # seen at the same path inside
cleanup() { "$SANDBOX" stop "$S" >/dev/null 2>&1 || true; rm -rf "$S" "$SHARE"; }
trap cleanup EXIT
step() { printf '\n### %s (%ss)\n' "$*" "$SECONDS"; }
fail() { echo "FAILED: $*"; for u in sim streamer executor api; do echo "--- autotrader-$u"; sb journalctl -u autotrader-$u --no-pager -n 30 || true; done; exit 1; }
sb() { "$SANDBOX" run "$S" "$@"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mainpid() { sb systemctl show -p MainPID --value "$1"; }
wait_active() { # unit [seconds]
  for _ in $(seq "${2:-90}"); do [ "$(sb systemctl is-active "$1" || true)" = active ] && return 0; sleep 1; done
  fail "$1 is not active: $(sb systemctl status "$1" --no-pager 2>&1 | head -20)"
}
sql() { sb runuser -u autotrader -- sqlite3 -cmd '.timeout 10000' /var/lib/autotrader/system.db "$@"; }

step "booting systemd in $S"
"$SANDBOX" start "$S" "$REPO" "$BIN" "$SHARE" >/dev/null
SERVICES=(autotrader-sim autotrader-streamer autotrader-executor autotrader-api)

# The sandbox shares the host's network: give the simulator and the api ports nobody else uses.
SIM_PORT=$(free_port); API_PORT=$(free_port)
step "deploy.sh (first install, simulated mode; sim :$SIM_PORT, api :$API_PORT)"
out=$(sb env AUTOTRADER_SIM_ARGS="--port $SIM_PORT --speed 60 --skip-closed" AUTOTRADER_SIM_URL="http://127.0.0.1:$SIM_PORT" \
  AUTOTRADER_API_PORT="$API_PORT" "$REPO/deploy.sh" --prebuilt "$BIN" --no-apt --no-kiosk 2>&1) || fail "deploy.sh failed: $out"
echo "$out"
grep -q "simulated mode" <<<"$out" || fail "deploy.sh did not say simulated mode"
grep -q "dashboard: http://localhost:$API_PORT" <<<"$out" || fail "deploy.sh did not print the dashboard URL"
[ "$(sb stat -c '%a %U' /etc/autotrader/autotrader.env)" = "600 autotrader" ] || fail "the config is not 0600 autotrader"
for s in "${SERVICES[@]}"; do wait_active "$s"; done
sb systemctl is-enabled autotrader.target >/dev/null || fail "autotrader.target is not enabled"
API=http://127.0.0.1:$API_PORT
page=$(curl -fsS "$API/") || fail "the dashboard does not answer on :$API_PORT"
grep -qi "<html" <<<"$page" || fail "the dashboard's page is not HTML: ${page:0:200}"
curl -fsS "$API/api/health" >/dev/null || fail "GET /api/health does not answer"
sb runuser -u autotrader -- env -C /var/lib/autotrader autotrader doctor --services streamer,executor || true

step "script algorithms: the owner's folder, described by the executor under its sandbox, offered by the api"
grep -q "scripts:   /var/lib/autotrader-algorithms" <<<"$out" || fail "deploy.sh did not say where script algorithms go"
[ "$(sb stat -c '%a %G' /var/lib/autotrader-algorithms)" = "2775 autotrader" ] || fail "the algorithm folder is not 2775, group autotrader"
for _ in $(seq 30); do curl -fsS "$API/api/available-algorithms" | grep -q '"name":"bollinger_reversion"' && break; sleep 1; done
curl -fsS "$API/api/available-algorithms" | python3 -c 'import json, sys
rows = json.load(sys.stdin)["algorithms"]
sys.exit(0 if any(r["name"] == "bollinger_reversion" and r["kind"] == "script" and r["status"] == "ok" and r["bars_needed"] == 21 for r in rows) else 1)' \
  || fail "the seeded Python algorithm is not offered: $(curl -sS "$API/api/available-algorithms")"
filter=$(sb journalctl -u autotrader-executor --no-pager -q -o cat | grep -i "network filter\|not confined" || true)
[ -z "$filter" ] || fail "the Python runner's network filter or write confinement did not apply under the executor's sandbox: $filter"
# Its worker was exec'd through prlimit: the executor's default --script-memory-mb (1024) binds it.
worker=$(sb pgrep -u autotrader -f 'bollinger_reversion[.]py' | head -1 || true)
[ -n "$worker" ] || fail "no worker of bollinger_reversion.py runs under the executor: $(sb ps -u autotrader -o pid,args 2>&1 | cut -c1-120)"
limit=$(sb cat "/proc/$worker/limits" | awk '/^Max address space/ {print $4}')
[ "$limit" = 1073741824 ] || fail "the script worker's address-space limit is '$limit', not --script-memory-mb's 1 GiB"
echo "script worker $worker: address space limited to $limit bytes"

step "journald: priorities from the <N> prefixes"
pid=$(mainpid autotrader-sim); sb kill -9 "$pid"   # the streamer's stream drops: it warns
wait_active autotrader-sim
# (journal text is captured before grep: grep -q would close the pipe early, and pipefail would count that)
for _ in $(seq 30); do grep -q "stream disconnected" <<<"$(sb journalctl -t autotrader-streamer -p warning --no-pager -q)" && break; sleep 1; done
grep -q "stream disconnected" <<<"$(sb journalctl -t autotrader-streamer -p warning --no-pager -q -o cat)" \
  || fail "no warning in journalctl -p warning: $(sb journalctl -u autotrader-streamer --no-pager -n 20)"
for s in autotrader-streamer autotrader-executor autotrader-api; do
  warnings=$(sb journalctl -t $s -p warning --no-pager -q -o cat)
  [ -z "$warnings" ] || ! grep -qv "^warning \|^error \|^critical " <<<"$warnings" \
    || fail "journalctl -t $s -p warning shows a line that is not a warning or worse: $warnings"
  grep -q "^info $s: " <<<"$(sb journalctl -t $s -p info..info --no-pager -q -o cat)" || fail "$s's info lines are not at priority info"
  echo "$s: $(grep -c . <<<"$warnings" || true) lines at warning or worse, all of them warnings or errors"
done

step "a card created through the api (with the PIN) trades"
post() { curl -sS -o "$SHARE/reply" -w '%{http_code}' -X "$1" -H 'Content-Type: application/json' "${@:3}" "$API$2"; }
[ "$(post POST /api/algorithms -H 'X-PIN: 1111' -d '{"ticker":"AAPL","algorithm_type":"macd_signal","initial_capital":10000}')" = 403 ] \
  || fail "a wrong PIN was not refused: $(cat "$SHARE/reply")"
# A wrong PIN starts a back-off (counted across all clients): the right one is checked only after it.
wait_s=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("retry_after", 0))' "$SHARE/reply")
sleep "$wait_s"
[ "$(post POST /api/algorithms -H 'X-PIN: 2020' -d '{"ticker":"AAPL","algorithm_type":"macd_signal","initial_capital":10000}')" = 201 ] \
  || fail "creating a card failed: $(cat "$SHARE/reply")"
CARD=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$SHARE/reply")
trades() { sql "SELECT count(*) FROM transactions WHERE algorithm_id = $CARD"; }
for _ in $(seq 240); do [ "$(trades)" -ge 1 ] && break; sleep 1; done
[ "$(trades)" -ge 1 ] || fail "card $CARD made no trade in 4 minutes (at 60×): $(sb runuser -u autotrader -- autotrader decisions "$CARD" --limit 5 2>&1)"
listed=$(curl -fsS "$API/api/algorithms/$CARD/transactions" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["transactions"]))')
[ "$listed" -ge 1 ] || fail "the api does not list card $CARD's transactions"
echo "card $CARD (macd_signal, AAPL) made $(trades) trades; the api lists $listed"

step "SIGKILL each service: systemd restarts it, and nothing is lost"
restarted() { # unit pid_before: waits for a new main pid, active
  for _ in $(seq 60); do
    now=$(mainpid "$1"); [ "$now" != 0 ] && [ "$now" != "$2" ] && [ "$(sb systemctl is-active "$1" || true)" = active ] && return 0
    sleep 1
  done
  fail "$1 was not restarted after SIGKILL"
}
before_kills=$(trades)
for s in autotrader-streamer autotrader-executor autotrader-api; do
  before=$(mainpid "$s"); sb kill -9 "$before"; restarted "$s" "$before"
  echo "$s: pid $before killed, now pid $now (restarts: $(sb systemctl show -p NRestarts --value "$s"))"
  sleep 3
done
for _ in $(seq 240); do [ "$(trades)" -gt "$before_kills" ] && break; sleep 1; done
[ "$(trades)" -gt "$before_kills" ] || fail "card $CARD made no trade in 4 minutes after the restarts"
echo "card $CARD traded again after the restarts ($(trades) trades)"
# While the card runs (the streamer follows AAPL only for it): stocks.db caught up with what the kills missed.
same_bars() { # stocks.db's AAPL bars of the last hour equal the simulator's
  local end; end=$(curl -fsS "http://127.0.0.1:$SIM_PORT/sim/clock" | python3 -c 'import json,sys,datetime; e=int(json.load(sys.stdin)["epoch"])//60*60-120; print(datetime.datetime.fromtimestamp(e, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))')
  local start; start=$(python3 -c 'import sys,datetime; e=datetime.datetime.strptime(sys.argv[1],"%Y-%m-%dT%H:%M:%SZ")-datetime.timedelta(hours=1); print(e.strftime("%Y-%m-%dT%H:%M:%SZ"))' "$end")
  curl -fsS "http://127.0.0.1:$SIM_PORT/sim/bars?symbols=AAPL&start=$start&end=$end" > "$SHARE/bars.json"
  sb runuser -u autotrader -- sqlite3 -cmd '.timeout 10000' /var/lib/autotrader/stocks.db \
    "SELECT timestamp, printf('%.4f', close) FROM minute_bars WHERE ticker = 'AAPL' AND timestamp >= '$start' AND timestamp <= '$end'" > "$SHARE/ours.txt"
  python3 - "$SHARE/bars.json" "$SHARE/ours.txt" <<'PY'
import json, sys
truth = {b["t"][:16] + ":00Z": "%.4f" % b["c"] for b in json.load(open(sys.argv[1]))["bars"].get("AAPL", [])}
ours = dict(line.split("|") for line in open(sys.argv[2]).read().split())
if truth and truth == ours: print(f"stocks.db holds the simulator's {len(truth)} AAPL bars of the last hour"); sys.exit(0)
print(f"DIFFERENT: {len(truth)} bars at the simulator, {len(ours)} in stocks.db; missing {sorted(set(truth) - set(ours))[:5]}, differing {[k for k in truth if k in ours and truth[k] != ours[k]][:5]}"); sys.exit(1)
PY
}
for _ in $(seq 30); do same_bars >/dev/null && break; sleep 1; done
same_bars || fail "stocks.db's bars differ from the simulator's"


# Stop the card (the api, with the PIN); orders already sent are still followed to their fills.
[ "$(post DELETE "/api/algorithms/$CARD?keep_shares=true" -H 'X-PIN: 2020')" = 200 ] || fail "stopping card $CARD failed: $(cat "$SHARE/reply")"
same_fills() { # the simulator's fills and system.db's transactions: the same orders, the same shares
  curl -fsS "http://127.0.0.1:$SIM_PORT/sim/fills" > "$SHARE/fills.json"
  sql "SELECT ifnull(i.client_order_id, '-'), t.shares FROM transactions t LEFT JOIN order_intents i ON i.transaction_id = t.id" > "$SHARE/tx.txt"
  python3 - "$SHARE/fills.json" "$SHARE/tx.txt" <<'PY'
import collections, json, sys
broker, ours = collections.Counter(), collections.Counter()
for fill in json.load(open(sys.argv[1])): broker[fill["client_order_id"]] += int(fill["qty"])
for line in open(sys.argv[2]).read().split():
    order, shares = line.split("|"); ours[order] += int(shares)
if broker and broker == ours: print(f"{len(broker)} fills at the simulator = {sum(ours.values())} shares in {len(ours)} transactions"); sys.exit(0)
print(f"DIFFERENT: only at the simulator {dict(broker - ours)}, only in system.db {dict(ours - broker)}"); sys.exit(1)
PY
}
for _ in $(seq 30); do same_fills >/dev/null && break; sleep 1; done
same_fills || fail "the simulator's fills and system.db's transactions differ"
sb runuser -u autotrader -- env -C /var/lib/autotrader autotrader reconcile || fail "autotrader reconcile found a difference"
# The simulator stands in for Alpaca (its book lives in memory): it is restarted too, nothing more is asked of it.
before=$(mainpid autotrader-sim); sb kill -9 "$before"; restarted autotrader-sim "$before"
echo "autotrader-sim: pid $before killed, now pid $now"

step "a service that stops sending WATCHDOG is restarted"
sb mkdir -p /run/systemd/system/autotrader-executor.service.d
sb sh -c 'printf "[Service]\nWatchdogSec=4\nTimeoutAbortSec=2\n" > /run/systemd/system/autotrader-executor.service.d/watchdog.conf'
sb systemctl daemon-reload; sb systemctl restart autotrader-executor; wait_active autotrader-executor
before=$(mainpid autotrader-executor); sb kill -STOP "$before"
for _ in $(seq 40); do now=$(mainpid autotrader-executor); [ "$now" != "$before" ] && [ "$now" != 0 ] && break; sleep 1; done
[ "$now" != "$before" ] || fail "the frozen executor was not restarted by the watchdog"
grep -qi "watchdog timeout" <<<"$(sb journalctl -u autotrader-executor --no-pager -q)" || fail "no watchdog timeout in the journal"
echo "executor frozen (pid $before), watchdog restarted it (pid $now)"
sb rm -rf /run/systemd/system/autotrader-executor.service.d; sb systemctl daemon-reload; sb systemctl restart autotrader-executor
wait_active autotrader-executor

step "a transaction, then an upgrade that migrates system.db"
sql "INSERT INTO algorithm_instances (display_name, algorithm_type, ticker, initial_capital, status, created_at, stopped_at)
     VALUES ('AAPL_sandbox', 'sma_crossover', 'AAPL', 1000, 'stopped', '2024-06-04T14:30:00Z', '2024-06-04T15:00:00Z');
     INSERT INTO transactions (algorithm_id, type, shares, price, timestamp)
     VALUES (last_insert_rowid(), 'buy', 3, 190.5, '2024-06-04T14:31:00Z');"
count() { sql "SELECT count(*) FROM transactions WHERE price = 190.5 AND shares = 3"; }
all_tx=$(sql "SELECT count(*) || ' ' || total(shares * price) FROM transactions")
[ "$(count)" = 1 ] || fail "the test transaction is not there"
# Make the installed system.db look as it was at schema version 5 (as before an upgrade that brings
# migration 6 and every later one: their tables are dropped, so the upgrade creates them again).
latest=$(sql 'PRAGMA user_version')
sb systemctl stop autotrader.target
# (left stopped: a service started now would migrate it at once; the old build it stands for wouldn't)
# (6: pin_attempts, 7: algorithm_catalog, 8: order_intents.limit_price, 9: notification_outbox, 10: backtests,
# 11: an index on order_intents; a new migration adds its undoing here)
sql "DROP TABLE pin_attempts; DROP TABLE algorithm_catalog; ALTER TABLE order_intents DROP COLUMN limit_price;
     DROP TABLE notification_outbox; DROP TABLE backtests; DROP INDEX order_intents_closed_unsent; PRAGMA user_version = 5;"
mkdir -p "$SHARE/upgrade"; cp "$BIN"/autotrader* "$SHARE/upgrade/" 2>/dev/null || true
printf 'upgrade' >> "$SHARE/upgrade/autotrader-streamer"   # a different build of the streamer
out=$(sb "$REPO/deploy.sh" --prebuilt "$SHARE/upgrade" --no-apt --no-kiosk 2>&1) || fail "the upgrade failed: $out"
echo "$out"
grep -q "backed up (SQLite online backup)" <<<"$out" || fail "no backup before the migration"
backup=$(sed -n 's/.*backed up (SQLite online backup) to \(.*\) before its migration/\1/p' <<<"$out")
[ "$(sb sqlite3 "$backup" 'PRAGMA user_version; SELECT count(*) FROM transactions WHERE price = 190.5;' | tr '\n' ' ')" = "5 1 " ] \
  || fail "the backup $backup is not the pre-migration system.db with the transaction"
[ "$(sql 'PRAGMA user_version')" = "$latest" ] || fail "system.db was not migrated (to $latest)"
[ "$(count)" = 1 ] || fail "the upgrade lost the transaction"
[ "$(sql "SELECT count(*) || ' ' || total(shares * price) FROM transactions")" = "$all_tx" ] || fail "the upgrade changed the transactions"
for s in "${SERVICES[@]}"; do wait_active "$s"; done

step "deploy.sh a second time with nothing new: changes nothing, restarts nothing"
declare -A pids; for s in "${SERVICES[@]}"; do pids[$s]=$(mainpid "$s"); done
sum() { sb sh -c 'find /opt/autotrader /usr/local/lib/systemd/system /etc/autotrader -type f -exec md5sum {} + | sort; ls /var/lib/autotrader/backups 2>/dev/null'; }
sums=$(sum)
out=$(sb "$REPO/deploy.sh" --prebuilt "$SHARE/upgrade" --no-apt --no-kiosk 2>&1) || fail "the second run failed: $out"
grep -q "restarting\|backed up\|writing /etc" <<<"$out" && fail "the second run changed something: $out"
[ "$sums" = "$(sum)" ] || fail "the second run changed files: $(diff <(echo "$sums") <(sum))"
for s in "${SERVICES[@]}"; do [ "${pids[$s]}" = "$(mainpid "$s")" ] || fail "the second run restarted $s"; done
[ "$(count)" = 1 ] || fail "the second run lost the transaction"
[ "$(sql "SELECT count(*) || ' ' || total(shares * price) FROM transactions")" = "$all_tx" ] || fail "the second run changed the transactions"
echo "unchanged: $(wc -l <<<"$sums") files, ${#SERVICES[@]} services kept their pids"

step "deploy.sh --uninstall keeps the data"
sb "$REPO/deploy.sh" --uninstall
sb test ! -e /usr/local/lib/systemd/system/autotrader-streamer.service || fail "a unit is left"
sb test ! -e /opt/autotrader || fail "/opt/autotrader is left"
for s in "${SERVICES[@]}"; do [ "$(sb systemctl is-active "$s" || true)" != active ] || fail "$s still runs"; done
sb test -f /etc/autotrader/autotrader.env || fail "the config was removed"
[ "$(count)" = 1 ] || fail "the uninstall lost the transaction"
step "where systemd is not PID 1: deploy.sh runs the services in the foreground (autotrader run); SIGTERM to deploy.sh stops them all"
# A private mount namespace hides /run/systemd/system (sd_booted: the sign of a systemd-booted system).
sb sh -c "unshare --mount --propagation private sh -c 'mount -t tmpfs none /run/systemd; \
  exec \"\$0\" --prebuilt \"\$1\" --no-apt --no-kiosk' '$REPO/deploy.sh' '$SHARE/upgrade' > '$SHARE/foreground.log' 2>&1 & echo \$! > '$SHARE/foreground.pid'"
for _ in $(seq 90); do grep -q "service started.*service=autotrader-api" "$SHARE/foreground.log" 2>/dev/null && break; sleep 1; done
cat "$SHARE/foreground.log" | grep -v "Failed to set thread priority" | head -20
grep -q "systemd is not PID 1 here" "$SHARE/foreground.log" || fail "deploy.sh did not say systemd is not PID 1"
grep -q "service started.*service=autotrader-executor" "$SHARE/foreground.log" || fail "autotrader run did not start the services"
deploy_pid=$(cat "$SHARE/foreground.pid")   # deploy.sh's pid: it exec'd (through setpriv) autotrader run
[ "$(sb cat /proc/"$deploy_pid"/comm)" = autotrader ] || fail "deploy.sh's pid $deploy_pid is not autotrader run: $(sb ps -o pid,args -p "$deploy_pid")"
running=$(sb pgrep -u autotrader -l || true)
echo "deploy.sh (pid $deploy_pid) runs: $(tr '\n' ' ' <<<"$running")"
for p in autotrader-sim autotrader-stre autotrader-exec autotrader-api; do   # (comm: at most 15 characters)
  grep -q " $p\$" <<<"$running" || fail "no $p process runs under deploy.sh: $running"
done
# What `docker stop` or `timeout` do: SIGTERM to deploy.sh itself. README: SIGTERM to each service, SIGKILL
# after 10 s, exit 0 — so after at most about 10 s nothing of the autotrader user may be left.
sb kill -TERM "$deploy_pid"
signalled=$(date +%s%N); gone_ms=
while [ $(( ($(date +%s%N) - signalled) / 1000000 )) -lt 12000 ]; do
  if ! sb kill -0 "$deploy_pid" 2>/dev/null && [ -z "$(sb pgrep -u autotrader || true)" ]; then
    gone_ms=$(( ($(date +%s%N) - signalled) / 1000000 )); break
  fi
  sleep 0.1
done
[ -n "$gone_ms" ] || fail "12 s after SIGTERM to deploy.sh, still running: $(sb ps -o pid,ppid,user,args -u autotrader 2>&1; sb ps -o pid,args -p "$deploy_pid" 2>&1)"
grep -q "autotrader-run: stopped" "$SHARE/foreground.log" || fail "autotrader run did not stop cleanly on SIGTERM: $(tail -20 "$SHARE/foreground.log")"
echo "SIGTERM to deploy.sh: every autotrader process gone after $gone_ms ms"
[ "$(count)" = 1 ] || fail "the foreground run lost the transaction"

echo
echo "PASSED in ${SECONDS}s"
