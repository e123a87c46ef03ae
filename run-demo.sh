#!/usr/bin/env bash
# Install xenballoon-driver in .venv and run the CLI on the embedded
# simulated host. With no arguments: compare every balloon strategy on the
# default scenario (a 1 TiB host whose dom0 holds 960 GiB).
set -euo pipefail
cd "$(dirname "$0")"
. tools/ensure-venv.sh
ensure_venv
if [ ! -x .venv/bin/xenballoon ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet .
fi
if [ $# -eq 0 ]; then
  set -- simulate --strategy all
fi
exec .venv/bin/xenballoon "$@"
