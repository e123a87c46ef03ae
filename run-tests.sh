#!/usr/bin/env bash
# Install tox in a private virtualenv and run tox's envlist: nova, pep8,
# release notes, cover (the functional then the unit tests under coverage,
# and the coverage of both).
set -euo pipefail
cd "$(dirname "$0")"
. tools/ensure-venv.sh
ensure_venv
ensure_test_packages
VENV=${XENBALLOON_TOOLS_VENV:-.tox/.tools}
if [ ! -x "$VENV/bin/tox" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet 'tox>=4'
fi
exec "$VENV/bin/tox" "$@"
