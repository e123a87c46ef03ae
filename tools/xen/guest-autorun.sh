#!/bin/sh
# /payload/autorun.sh, run by dom0's /init: the test suite, inside dom0.
cd /payload/src || exit 1
export PYTHONPATH=/payload/src:/payload/site
export PYTHONDONTWRITEBYTECODE=1
export XENBALLOON_XEN_MEASUREMENTS=/tmp/xenballoon-measurements.json
exec python3 tools/xen/guest-run.py
