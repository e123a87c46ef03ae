"""Run the payload's pytest inside dom0 and report to the host runner.

Started by /payload/autorun.sh in dom0. Prints, for run-qemu.py on the
host:

    XENBALLOON-TEST <outcome> <seconds> <nodeid>     one per test
    XENBALLOON-MEASUREMENTS-BEGIN
    XBM <line of JSON>                               the measurements
    XENBALLOON-MEASUREMENTS-END sha256=<hex of the JSON text>
    XENBALLOON-RESULT rc=N passed=N failed=N skipped=N errors=N

The JSON merges what the tests recorded (in $XENBALLOON_XEN_MEASUREMENTS)
with each test's outcome and duration.
"""

import hashlib
import json
import os
import sys
import time

import pytest

T0 = time.monotonic()


def uptime():
    with open('/proc/uptime') as f:
        return float(f.read().split()[0])


class Collector:
    def __init__(self):
        self.tests = {}

    def pytest_runtest_logreport(self, report):
        entry = self.tests.setdefault(report.nodeid, {
            'outcome': 'passed', 'duration_s': 0.0})
        entry['duration_s'] = round(entry['duration_s'] + report.duration, 3)
        if report.failed:
            entry['outcome'] = 'failed' if report.when == 'call' else 'error'
        elif report.skipped:
            entry['outcome'] = 'skipped'
            reason = report.longrepr
            if isinstance(reason, tuple):
                reason = reason[2]
            entry['skip_reason'] = str(reason)


def main():
    print('XENBALLOON-XEN: pytest start uptime=%.2f' % uptime(), flush=True)
    with open('/payload/pytest-args') as f:
        args = [a for a in f.read().splitlines() if a]
    collector = Collector()
    rc = int(pytest.main(
        ['-v', '-s', '-p', 'no:cacheprovider', '-rs', '--durations=0',
         '--tb=short', '--color=no', '-o', 'addopts='] + args,
        plugins=[collector]))

    counts = {k: 0 for k in ('passed', 'failed', 'skipped', 'error')}
    for nodeid, entry in collector.tests.items():
        counts[entry['outcome']] += 1
        print('XENBALLOON-TEST %s %.2f %s' % (
            entry['outcome'], entry['duration_s'], nodeid), flush=True)

    path = os.environ.get('XENBALLOON_XEN_MEASUREMENTS', '')
    recorded = {}
    if path and os.path.exists(path):
        try:
            with open(path) as f:
                recorded = json.load(f)
        except ValueError as err:
            recorded = {'error': 'unreadable %s: %s' % (path, err)}
    data = {
        'pytest': {'rc': rc, 'counts': counts,
                   'wall_s': round(time.monotonic() - T0, 2),
                   'tests': collector.tests},
        'dom0_uptime_at_end_s': uptime(),
    }
    data.update(recorded)
    text = json.dumps(data, indent=1, sort_keys=True)
    print('XENBALLOON-MEASUREMENTS-BEGIN', flush=True)
    for line in text.splitlines():
        print('XBM ' + line)
    print('XENBALLOON-MEASUREMENTS-END sha256=%s'
          % hashlib.sha256(text.encode()).hexdigest(), flush=True)
    print('XENBALLOON-RESULT rc=%d passed=%d failed=%d skipped=%d errors=%d'
          % (rc, counts['passed'], counts['failed'], counts['skipped'],
             counts['error']), flush=True)
    return rc


if __name__ == '__main__':
    sys.exit(main())
