"""tests/xen: functional tests against a real Xen host, run inside dom0.

They run under ``tox -e xen`` (tools/xen/run.sh boots Xen + dom0 in QEMU
and runs them there) and are skipped anywhere else, so a plain
``pytest tests/`` on a workstation or in CI passes.

Tests record what they measure with the ``measure`` fixture; at the end of
the session it is written as JSON to $XENBALLOON_XEN_MEASUREMENTS, which
the guest runner prints for the host to save.
"""

import json
import os

import pytest

from tests.xen import xenhost

HERE = os.path.dirname(os.path.abspath(__file__))
_RECORDED = {}


def pytest_collection_modifyitems(config, items):
    ok, reason = xenhost.in_dom0()
    if ok:
        return
    skip = pytest.mark.skip(reason='real-Xen test (run it with tox -e xen): '
                                   + reason)
    for item in items:
        if str(item.fspath).startswith(HERE + os.sep):
            item.add_marker(skip)


class Measurements:
    """What a test measured, by test name; JSON-ready values only."""

    def __init__(self, store):
        self.store = store

    def record(self, test, **figures):
        self.store.setdefault(test, {}).update(figures)
        print('MEASURED %s: %s' % (test, json.dumps(
            {k: v for k, v in figures.items() if not isinstance(v, list)},
            sort_keys=True)))


@pytest.fixture(scope='session')
def measure():
    return Measurements(_RECORDED.setdefault('tests', {}))


def pytest_sessionfinish(session, exitstatus):
    path = xenhost.env_path()
    if path and _RECORDED:
        with open(path, 'w') as f:
            json.dump(_RECORDED, f, sort_keys=True)


@pytest.fixture
def dom0_restored():
    """dom0's balloon target before the test; put back (and settled) after."""
    before = xenhost.balloon()
    yield before
    target = before['target_kb'] // 1024
    if xenhost.dom0_target_mb() != target:
        xenhost.xl('mem-set', '0', '%dm' % target)
    assert xenhost.wait_dom0_settled(target, timeout=120, slack_mb=4), (
        'dom0 did not come back to %d MiB: %s' % (target, xenhost.balloon()))
