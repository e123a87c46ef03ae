#!/usr/bin/env bash
# Install xenballoon-driver in .venv and run the CLI on the embedded
# simulated host. With no arguments: compare every balloon strategy on the
# default scenario (a 1 TiB host whose dom0 holds 960 GiB).
# Each step says what it does on stderr; the command's output is last.
set -euo pipefail
cd "$(dirname "$0")"
say() {
  echo "run-demo: $*" >&2
}
. tools/ensure-venv.sh
ensure_venv
if [ -f .venv ] && [ ! -d .venv ]; then
  # A PEP 832 redirect file (tox 4.67+ writes one unless told not to).
  say "replacing the .venv redirect file $(cat .venv) with a virtualenv"
  rm -f .venv
fi
if [ ! -x .venv/bin/xenballoon ]; then
  say "creating the virtualenv .venv (first run only)"
  python3 -m venv .venv
  say "upgrading pip in .venv"
  .venv/bin/pip install --quiet --upgrade pip
  say "installing xenballoon-driver and its requirements into .venv" \
      "(about 2 minutes)"
  .venv/bin/pip install --quiet .
fi
if [ $# -eq 0 ]; then
  set -- simulate --strategy all
fi
say "running: xenballoon $*"
exec .venv/bin/xenballoon "$@"
