#!/usr/bin/env bash
# deploy.sh — install or upgrade AutoTrader on Debian 12 / Raspberry Pi OS (arm64, x86-64) in one step.
#
#   sudo ./deploy.sh                 install or upgrade from this checkout, start everything, print the dashboard URL
#   sudo ./deploy.sh --uninstall     remove the units and the programs; keep the databases, the config and the user
#
# Options:
#   --prebuilt DIR     install the executables already built in DIR (skips the Swift build; also AUTOTRADER_PREBUILT=DIR)
#   --kiosk / --no-kiosk   enable / don't enable Chromium full-screen on the local display (default: when a desktop is there)
#   --kiosk-user USER  the desktop user the kiosk runs as (default: $SUDO_USER, else the user with uid 1000)
#   --no-apt           don't install missing apt packages (just say which are missing)
#   --foreground       run the services in the foreground (`autotrader run`) even where systemd is PID 1
#
# Idempotent: a second run with nothing new changes nothing, restarts nothing. An upgrade never touches the
# data: existing databases are only migrated (after an online backup of system.db when a migration is due),
# an existing /etc/autotrader/autotrader.env is kept. No Alpaca keys (the default) means simulated mode.
# Where systemd is not PID 1 (a container, CI) it installs the same way, then runs `autotrader run` in the
# foreground: the services as supervised child processes, restarted when they die, stopped by Ctrl-C (or a
# SIGTERM or SIGHUP to this script's pid, which becomes `autotrader run`'s).
set -euo pipefail

PREFIX=/opt/autotrader
UNIT_DIR=/usr/local/lib/systemd/system
CONFIG_DIR=/etc/autotrader
CONFIG=$CONFIG_DIR/autotrader.env
STATE=/var/lib/autotrader
USER_NAME=autotrader
SERVICES=(autotrader-sim autotrader-streamer autotrader-executor autotrader-api)
BINARIES=(autotrader autotrader-sim autotrader-streamer autotrader-executor autotrader-api)
RUNTIME_PACKAGES=(ca-certificates libcurl4 libxml2 tzdata sqlite3)
BUILD_PACKAGES=(binutils git gnupg2 libc6-dev libcurl4-openssl-dev libedit2 libgcc-12-dev libpython3-dev libsqlite3-dev
  libstdc++-12-dev libxml2-dev libz3-dev pkg-config unzip zlib1g-dev)

SOURCE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PREBUILT=${AUTOTRADER_PREBUILT:-}
KIOSK=auto
KIOSK_USER=
APT=yes
FOREGROUND=no
UNINSTALL=no
CHANGED=()

say() { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case $1 in
    --prebuilt) PREBUILT=${2:?--prebuilt needs a folder}; shift ;;
    --prebuilt=*) PREBUILT=${1#*=} ;;
    --kiosk) KIOSK=yes ;;
    --no-kiosk) KIOSK=no ;;
    --kiosk-user) KIOSK_USER=${2:?--kiosk-user needs a name}; shift ;;
    --no-apt) APT=no ;;
    --foreground) FOREGROUND=yes ;;
    --uninstall) UNINSTALL=yes ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done

[ "$(id -u)" -eq 0 ] || die "deploy.sh installs system-wide: run it as root (sudo ./deploy.sh)"
# systemd's own test for "booted with systemd" (sd_booted): is this system's PID 1 systemd?
if [ -d /run/systemd/system ]; then SYSTEMD=yes; else SYSTEMD=no; fi

# ---------------------------------------------------------------------------------------------- uninstall
if [ $UNINSTALL = yes ]; then
  if [ $SYSTEMD = yes ]; then
    say "stopping and disabling autotrader.target and autotrader-kiosk"
    systemctl disable --now autotrader-kiosk.service autotrader.target 2>/dev/null || true
    systemctl stop "${SERVICES[@]/%/.service}" 2>/dev/null || true
  fi
  say "removing the units, $PREFIX and /usr/local/bin/autotrader"
  rm -f "$UNIT_DIR"/autotrader.target "$UNIT_DIR"/autotrader-{sim,streamer,executor,api,kiosk}.service
  rm -rf /etc/systemd/system/autotrader-kiosk.service.d "$PREFIX"
  [ -L /usr/local/bin/autotrader ] && rm -f /usr/local/bin/autotrader
  [ $SYSTEMD = yes ] && { systemctl daemon-reload; systemctl reset-failed 'autotrader*' 2>/dev/null || true; }
  say "kept: the databases in $STATE, the configuration $CONFIG and the user $USER_NAME"
  echo "    (remove them by hand to erase everything: rm -rf $STATE $CONFIG_DIR; userdel $USER_NAME)"
  exit 0
fi

# ---------------------------------------------------------------------------------------------- apt packages
missing_packages() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"
  done
}
packages=("${RUNTIME_PACKAGES[@]}")
[ -n "$PREBUILT" ] || packages+=("${BUILD_PACKAGES[@]}")
if command -v dpkg-query >/dev/null; then
  mapfile -t missing < <(missing_packages "${packages[@]}")
  if [ ${#missing[@]} -gt 0 ]; then
    if [ $APT = yes ]; then
      say "installing apt packages: ${missing[*]}"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    else
      warn "missing apt packages (--no-apt): ${missing[*]}"
    fi
  fi
else
  warn "no dpkg here: make sure these are installed: ${packages[*]}"
fi

# ---------------------------------------------------------------------------------------------- build
if [ -n "$PREBUILT" ]; then
  BIN=$(cd "$PREBUILT" && pwd)
  say "using the executables in $BIN (no build)"
else
  # sudo resets PATH: look where the toolchain usually is, the invoking user's swiftly included.
  user_home=$(getent passwd "${SUDO_USER:-root}" | cut -d: -f6)
  for d in /opt/swift/usr/bin /usr/share/swift/usr/bin "$user_home/.local/share/swiftly/bin" /root/.local/share/swiftly/bin; do
    [ -x "$d/swift" ] && PATH="$d:$PATH"
  done
  if ! command -v swift >/dev/null || ! swift --version >/dev/null 2>&1; then
    cat >&2 <<EOF
error: no Swift toolchain found. AutoTrader needs Swift 6.1 or newer (it is developed with 6.3).
Install it with swiftly, as https://www.swift.org/install/linux/ says (as your own user, not root):

    curl -O https://download.swift.org/swiftly/linux/swiftly-\$(uname -m).tar.gz && \\
    tar zxf swiftly-\$(uname -m).tar.gz && \\
    ./swiftly init --quiet-shell-followup && \\
    . "\${SWIFTLY_HOME_DIR:-\$HOME/.local/share/swiftly}/env.sh" && \\
    hash -r

then run  sudo ./deploy.sh  again (it finds ~/.local/share/swiftly/bin/swift of the user who runs sudo).
Or build elsewhere and install with  sudo ./deploy.sh --prebuilt DIR.
EOF
    exit 1
  fi
  say "building release executables with $(swift --version 2>/dev/null | head -n1) (several minutes on a Pi)"
  build=(swift build -c release --static-swift-stdlib --scratch-path "$SOURCE/.build-release")
  # Build as the owner of the checkout, so root never owns files in it.
  owner=$(stat -c %U "$SOURCE")
  as_owner() {
    if [ "$owner" != root ]; then
      (cd "$SOURCE" && runuser -u "$owner" -- env PATH="$PATH" HOME="$(getent passwd "$owner" | cut -d: -f6)" "$@")
    else
      (cd "$SOURCE" && "$@")
    fi
  }
  # Only the programs it installs: building every product would also link the dependencies' example
  # executables (swift-nio-ssl's), and those fail to link with the static stdlib.
  for binary in "${BINARIES[@]}"; do as_owner "${build[@]}" --product "$binary"; done
  BIN=$(as_owner "${build[@]}" --show-bin-path)
fi
for b in autotrader autotrader-sim autotrader-streamer autotrader-executor; do
  [ -x "$BIN/$b" ] || die "$BIN/$b is missing"
done
HAVE_API=yes
[ -x "$BIN/autotrader-api" ] || { HAVE_API=no; warn "$BIN/autotrader-api is missing: installing without the api and the dashboard"; }

# ---------------------------------------------------------------------------------------------- user, folders
if ! getent passwd "$USER_NAME" >/dev/null; then
  say "creating the system user $USER_NAME"
  useradd --system --user-group --home-dir "$STATE" --no-create-home --shell /usr/sbin/nologin \
    --comment "AutoTrader services" "$USER_NAME"
  CHANGED+=(user)
fi
install -d -m 0755 "$PREFIX" "$PREFIX/bin" "$UNIT_DIR" "$CONFIG_DIR"
install -d -m 0750 -o "$USER_NAME" -g "$USER_NAME" "$STATE"
# Script algorithms (algorithm/README.md): a folder the owner writes without root (the user who ran sudo),
# the executor reads through its group (setgid: new files get the group); picked up within seconds.
ALGORITHMS=${AUTOTRADER_ALGORITHM_DIR:-/var/lib/autotrader-algorithms}
ALGORITHMS_OWNER=${SUDO_USER:-root}
if [ ! -d "$ALGORITHMS" ]; then
  install -d -m 2775 -o "$ALGORITHMS_OWNER" -g "$USER_NAME" "$ALGORITHMS"
  install -m 0664 -o "$ALGORITHMS_OWNER" -g "$USER_NAME" "$SOURCE/algorithm/bollinger_reversion.py" "$ALGORITHMS/bollinger_reversion.py"
  CHANGED+=("$ALGORITHMS")
fi

# Copies $1 to $2 when they differ (atomically: a running program keeps its old file); notes the change.
install_file() {
  local mode=$1 src=$2 dst=$3
  if [ -f "$dst" ] && cmp -s "$src" "$dst"; then return 0; fi
  install -m "$mode" "$src" "$dst.new.$$"
  mv -f "$dst.new.$$" "$dst"
  CHANGED+=("$dst")
}

# ---------------------------------------------------------------------------------------------- programs
say "installing the programs in $PREFIX/bin"
# Stripped (about half the size: 160 → 80 MB each for a static release build); compared after stripping,
# so an unchanged build changes nothing.
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
for b in "${BINARIES[@]}"; do
  [ -x "$BIN/$b" ] || continue
  cp "$BIN/$b" "$STAGE/$b"
  command -v strip >/dev/null && strip "$STAGE/$b" 2>/dev/null || true
  install_file 0755 "$STAGE/$b" "$PREFIX/bin/$b"
done
rm -rf "$STAGE"
install_file 0755 "$SOURCE/systemd/autotrader-kiosk" "$PREFIX/bin/autotrader-kiosk"
install_file 0644 "$SOURCE/README.md" "$PREFIX/README.md"
ln -sfn "$PREFIX/bin/autotrader" /usr/local/bin/autotrader
if [ -d "$SOURCE/frontend" ] && ! diff -rq "$SOURCE/frontend" "$PREFIX/frontend" >/dev/null 2>&1; then
  say "installing the dashboard in $PREFIX/frontend"
  rm -rf "$PREFIX/frontend.new" && cp -r "$SOURCE/frontend" "$PREFIX/frontend.new"
  chmod -R u=rwX,go=rX "$PREFIX/frontend.new"
  rm -rf "$PREFIX/frontend.old"; [ -d "$PREFIX/frontend" ] && mv "$PREFIX/frontend" "$PREFIX/frontend.old"
  mv "$PREFIX/frontend.new" "$PREFIX/frontend"; rm -rf "$PREFIX/frontend.old"
  CHANGED+=("$PREFIX/frontend")
fi

# ---------------------------------------------------------------------------------------------- configuration
if [ ! -e "$CONFIG" ]; then
  if [ -n "${ALPACA_API_KEY:-}" ] && [ -n "${ALPACA_SECRET:-}" ]; then
    MODE="paper or live (keys from the environment; ALPACA_PAPER=${ALPACA_PAPER:-true})"
  else
    MODE="simulated (no Alpaca keys)"
  fi
  say "writing $CONFIG (mode 0600): $MODE"
  umask 077
  cat > "$CONFIG.new" <<EOF
# AutoTrader configuration (README: "Configuration reference"). Read by every service and by the CLI.
# Keep this file mode 0600: it holds the Alpaca keys. After a change: sudo systemctl restart autotrader.target

# Alpaca keys. Empty = simulated mode against the local simulator (autotrader-sim).
ALPACA_API_KEY=${ALPACA_API_KEY:-}
ALPACA_SECRET=${ALPACA_SECRET:-}
# true = paper trading (fake money at Alpaca), false = LIVE (real money).
ALPACA_PAPER=${ALPACA_PAPER:-true}
# iex (free plan) or sip.
ALPACA_FEED=${ALPACA_FEED:-iex}

# Where the databases live (the services may write only under $STATE).
AUTOTRADER_HOME=$STATE
# Script algorithms: drop a .py (original design's class Algorithm) or an executable here; no restart needed.
AUTOTRADER_ALGORITHM_DIR=$ALGORITHMS
AUTOTRADER_SYSTEM_DB=$STATE/system.db
AUTOTRADER_STOCKS_DB=$STATE/stocks.db

# The dashboard's port and address. 127.0.0.1 = only this machine (the wall's kiosk browser).
# For phones on the LAN: 0.0.0.0, ideally with TLS below (README: "Security").
AUTOTRADER_API_PORT=${AUTOTRADER_API_PORT:-5001}
AUTOTRADER_API_BIND=${AUTOTRADER_API_BIND:-127.0.0.1}
# Other names the dashboard is reached by (besides localhost, this machine's names and addresses).
AUTOTRADER_API_ALLOWED_HOSTS=${AUTOTRADER_API_ALLOWED_HOSTS:-}
# HTTPS with your own certificate and key (PEM files readable by the autotrader user); both or neither.
AUTOTRADER_API_TLS_CERT=${AUTOTRADER_API_TLS_CERT:-}
AUTOTRADER_API_TLS_KEY=${AUTOTRADER_API_TLS_KEY:-}

# The simulator (simulated mode only): where the services find it; its own options.
AUTOTRADER_SIM_URL=${AUTOTRADER_SIM_URL:-http://127.0.0.1:5090}

# Extra options for each service (split at spaces), e.g. AUTOTRADER_SIM_ARGS="--speed 60 --skip-closed"
AUTOTRADER_SIM_ARGS="${AUTOTRADER_SIM_ARGS:-}"
AUTOTRADER_STREAMER_ARGS="${AUTOTRADER_STREAMER_ARGS:-}"
AUTOTRADER_EXECUTOR_ARGS="${AUTOTRADER_EXECUTOR_ARGS:-}"
AUTOTRADER_API_ARGS="${AUTOTRADER_API_ARGS:-}"
EOF
  umask 022
  chown "$USER_NAME:$USER_NAME" "$CONFIG.new"; chmod 0600 "$CONFIG.new"; mv "$CONFIG.new" "$CONFIG"
  CHANGED+=("$CONFIG")
else
  say "keeping $CONFIG"
  if [ "$(stat -c '%a %U' "$CONFIG")" != "600 $USER_NAME" ]; then
    say "making $CONFIG mode 0600, owned by $USER_NAME (the services read it)"
    chown "$USER_NAME:$USER_NAME" "$CONFIG"; chmod 0600 "$CONFIG"
  fi
fi
as_service_user() { runuser -u "$USER_NAME" -- env -C "$STATE" AUTOTRADER_CONFIG="$CONFIG" "$@"; }
API_PORT=$(sed -n 's/^[[:space:]]*AUTOTRADER_API_PORT[[:space:]]*=[[:space:]]*["'\'']\{0,1\}\([0-9]*\).*/\1/p' "$CONFIG" | tail -n1)
API_PORT=${API_PORT:-5001}
TRADING_MODE=$(as_service_user "$PREFIX/bin/autotrader" mode 2>/dev/null || echo "unknown (autotrader doctor says why)")

# ---------------------------------------------------------------------------------------------- units
say "installing the systemd units in $UNIT_DIR"
units=(autotrader.target autotrader-sim.service autotrader-streamer.service autotrader-executor.service autotrader-kiosk.service)
[ $HAVE_API = yes ] && units+=(autotrader-api.service)
for u in "${units[@]}"; do install_file 0644 "$SOURCE/systemd/$u" "$UNIT_DIR/$u"; done

# ---------------------------------------------------------------------------------------------- databases
running=no
if [ $SYSTEMD = yes ] && systemctl is-active --quiet autotrader.target; then running=yes; fi
if [ -e "$STATE/system.db" ] && [ "$(as_service_user "$PREFIX/bin/autotrader" backup --check-outdated)" = outdated ]; then
  # An upgrade migrates system.db: stop the services, then copy it with SQLite's online backup first.
  if [ $running = yes ]; then say "stopping the services for the migration"; systemctl stop autotrader.target; running=no; fi
  copy=$(as_service_user "$PREFIX/bin/autotrader" backup)
  say "system.db backed up (SQLite online backup) to $copy before its migration"
fi
say "creating or updating the databases in $STATE (existing data is never overwritten)"
as_service_user "$PREFIX/bin/autotrader" init | sed 's/^/    /'

# ---------------------------------------------------------------------------------------------- start
if [ $SYSTEMD = no ] || [ $FOREGROUND = yes ]; then
  [ $SYSTEMD = no ] && say "systemd is not PID 1 here (a container or CI): running the services in the foreground instead"
  if [ $SYSTEMD = yes ] && systemctl is-active --quiet autotrader.target; then
    say "stopping autotrader.target first (--foreground: the same services must not run twice)"
    systemctl stop autotrader.target
  fi
  say "mode: $TRADING_MODE; dashboard: http://localhost:$API_PORT  (Ctrl-C stops everything)"
  cd "$STATE"
  # setpriv, not runuser: runuser stays in between as a parent that ignores SIGINT and SIGHUP and SIGKILLs its
  # child 2 s after a SIGTERM. With setpriv this script's pid becomes `autotrader run`'s own, so a SIGTERM,
  # SIGINT or SIGHUP to it (docker stop, timeout, Ctrl-C, a closed terminal) stops every service it started.
  exec setpriv --reuid="$USER_NAME" --regid="$USER_NAME" --init-groups -- \
    env HOME="$STATE" USER="$USER_NAME" LOGNAME="$USER_NAME" AUTOTRADER_CONFIG="$CONFIG" \
    "$PREFIX/bin/autotrader" run --frontend "$PREFIX/frontend"
fi

systemctl daemon-reload
systemctl enable --quiet autotrader.target
if [ $KIOSK = auto ]; then
  KIOSK=no
  if [ "$(systemctl get-default 2>/dev/null)" = graphical.target ] && { command -v chromium-browser || command -v chromium; } >/dev/null; then
    KIOSK=yes
  fi
fi
if [ $KIOSK = yes ] && [ $HAVE_API = yes ]; then
  KIOSK_USER=${KIOSK_USER:-${SUDO_USER:-$(getent passwd 1000 | cut -d: -f1)}}
  [ -n "$KIOSK_USER" ] && [ "$KIOSK_USER" != root ] || die "--kiosk needs the desktop user: --kiosk-user NAME"
  dropin=/etc/systemd/system/autotrader-kiosk.service.d
  mkdir -p "$dropin"
  printf '# Written by deploy.sh: the desktop user whose display shows the dashboard.\n[Service]\nUser=%s\n' "$KIOSK_USER" > "$dropin/user.conf.new"
  install_file 0644 "$dropin/user.conf.new" "$dropin/user.conf"; rm -f "$dropin/user.conf.new"
  systemctl daemon-reload
  systemctl enable --quiet autotrader-kiosk.service
  say "kiosk: Chromium full-screen on $KIOSK_USER's display"
elif [ $KIOSK = no ]; then
  systemctl disable --quiet autotrader-kiosk.service 2>/dev/null || true
fi

if [ $running = yes ] && [ ${#CHANGED[@]} -gt 0 ]; then
  say "restarting the services (changed: ${#CHANGED[@]} files)"
  systemctl restart autotrader.target
else
  systemctl start autotrader.target
fi
[ $KIOSK = yes ] && [ $HAVE_API = yes ] && { systemctl start autotrader-kiosk.service || true; }

# Wait for every service to be up (Type=notify: active means it said READY).
expected=(autotrader-streamer autotrader-executor)
[ $HAVE_API = yes ] && expected+=(autotrader-api)
[ "$TRADING_MODE" = simulated ] && expected=(autotrader-sim "${expected[@]}")
for _ in $(seq 180); do
  all=yes
  for s in "${expected[@]}"; do systemctl is-active --quiet "$s" || all=no; done
  [ $all = yes ] && break
  sleep 1
done
for s in "${expected[@]}"; do printf '    %-22s %s\n' "$s" "$(systemctl is-active "$s" || true)"; done
[ $all = yes ] || warn "not every service is active yet: systemctl status 'autotrader*'; journalctl -u autotrader-streamer"

address=$(hostname -I 2>/dev/null | awk '{print $1}')
API_BIND=$(sed -n 's/^[[:space:]]*AUTOTRADER_API_BIND[[:space:]]*=[[:space:]]*["'\'']\{0,1\}\([^"'\'' ]*\).*/\1/p' "$CONFIG" | tail -n1)
say "AutoTrader is running in $TRADING_MODE mode."
if [ $HAVE_API = yes ]; then
  case "${API_BIND:-0.0.0.0}" in
    127.*|localhost|::1)
      echo "    dashboard: http://localhost:$API_PORT  (this machine only; for phones on the LAN set AUTOTRADER_API_BIND=0.0.0.0 in $CONFIG, see README \"Security\")" ;;
    *)
      echo "    dashboard: http://localhost:$API_PORT${address:+  (from the LAN: http://$address:$API_PORT)}" ;;
  esac
else
  echo "    dashboard: none (autotrader-api was not built)"
fi
echo "    check:     sudo -u $USER_NAME autotrader doctor   (it warns while the default PIN is set)"
echo "    PIN:       sudo -u $USER_NAME autotrader set-pin"
echo "    logs:      journalctl -u 'autotrader*' -f"
echo "    scripts:   $ALGORITHMS  (writable by $ALGORITHMS_OWNER without root; see algorithm/README.md)"
