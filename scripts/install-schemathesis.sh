#!/usr/bin/env bash
# Installs schemathesis, the OpenAPI fuzzer that SchemathesisTests runs against autotrader-api, into a
# virtual environment of its own (PEP 668: Debian's python3 is "externally managed", and pip must not
# write into it). Does nothing when the pinned version is there already.
#
#   scripts/install-schemathesis.sh [VENV]     default: .build/schemathesis-venv (where the test looks)
#
# Needs python3 with the venv module (Debian: apt-get install python3-venv) and PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

version=4.32.5
venv="${1:-.build/schemathesis-venv}"

if [ -x "$venv/bin/schemathesis" ] && [ "$("$venv/bin/schemathesis" --version 2>/dev/null || true)" = "schemathesis, version $version" ]; then
    exit 0
fi
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    echo "install-schemathesis: python3 can't make a virtual environment (Debian: apt-get install python3-venv)" >&2
    exit 1
fi
echo "install-schemathesis: schemathesis $version into $venv"
# A half-made environment (no pip) is made again from scratch.
[ -x "$venv/bin/pip" ] || python3 -m venv --clear "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-input "schemathesis==$version"
"$venv/bin/schemathesis" --version
