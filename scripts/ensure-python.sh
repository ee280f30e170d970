#!/usr/bin/env bash
# Create the virtualenv, installing Debian's venv module first when it is missing.
set -euo pipefail
venv=${1:-.venv}
[ -x "$venv/bin/python" ] && exit 0
python=$(command -v python3.11 || command -v python3 || true)
if [ -z "$python" ] || ! "$python" -m venv --help >/dev/null 2>&1 || ! "$python" -c 'import ensurepip' 2>/dev/null; then
  echo "installing python3 and python3-venv with apt" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-dev >/dev/null
  python=$(command -v python3.11 || command -v python3)
fi
"$python" -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check --upgrade pip
