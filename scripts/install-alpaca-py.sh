#!/usr/bin/env bash
# Installs alpaca-py, Alpaca's official Python SDK, which AlpacaSDKConformanceTests points at autotrader-sim
# as an independent client (scripts/alpaca-py-conformance.py), into a virtual environment of its own
# (PEP 668: Debian's python3 is "externally managed", and pip must not write into it). Does nothing when
# the pinned version is there already.
#
#   scripts/install-alpaca-py.sh [VENV]     default: .build/alpaca-py-venv (where the test looks)
#
# Needs python3 with the venv module (Debian: apt-get install python3-venv) and PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.44.0
venv="${1:-.build/alpaca-py-venv}"

installed() {
    [ -x "$venv/bin/python" ] && [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("alpaca-py"))' 2>/dev/null || true)" = "$version" ]
}
if installed; then
    exit 0
fi
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    echo "install-alpaca-py: python3 can't make a virtual environment (Debian: apt-get install python3-venv)" >&2
    exit 1
fi
echo "install-alpaca-py: alpaca-py $version into $venv"
# A half-made environment (no pip) is made again from scratch.
[ -x "$venv/bin/pip" ] || python3 -m venv --clear "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-input "alpaca-py==$version"
installed || { echo "install-alpaca-py: alpaca-py $version is not importable from $venv" >&2; exit 1; }
"$venv/bin/python" -c 'import alpaca, importlib.metadata as m; print("alpaca-py", m.version("alpaca-py"))'
