"""A small spawn overtakes a big one's balloon, in separate processes.

The big spawn runs in a process of its own; once its reservation is
stored and dom0 is releasing, a small one starts in another process
and is served first (dispatch_policy shortest, the default). Undisturbed,
both run and the big one's entry keeps the small one's MiB as
``overtaken_mb``. Killed together (the whole process group) at a random
event of the small spawn, recovery leaves a consistent host: the rank
and the overtaking charge are written with the small one's entry, in one
document write.
"""

import time

import pytest

from tests.functional import kill_harness as kh
from tests.functional import test_kill_random

GiB = kh.GiB
BIG, SMALL = 40 * GiB, 2 * GiB
# 32 GiB from dom0 at 128 MiB/s: 256 simulated seconds, 10 s of real
# time at time_scale 25, time enough for the small one to arrive.
RATE, SCALE = 128, 25


@pytest.fixture
def zygote(tmp_path_factory):
    return kh.zygote(tmp_path_factory)


def big_waiting(zygote, tmp_path, url):
    scenario = kh.small_scenario()
    scenario['balloon']['release_rate_mb_s'] = RATE
    conf = kh.write_host(tmp_path / 'host', url, scenario, time_scale=SCALE)
    # The stores made first: two processes creating a fresh server
    # database's tables at once is not what this test is about.
    drv = kh.driver(conf)
    big = zygote.start(conf, 'spawn', 'big', '--memory-mb', BIG)
    deadline = time.monotonic() + kh.TIMEOUT_S
    # Waiting, and dom0 has released something: the rate is known.
    while not (drv.ledger.queue() and drv.backend.dom0_memory().current_mb
               < 56 * GiB - 1024):
        assert not big.done.is_set(), big.wait()
        assert time.monotonic() < deadline, 'the big spawn never waited'
        time.sleep(0.05)
    return conf, big


def test_small_overtakes_big_across_processes(zygote, tmp_path):
    url = 'sqlite:///%s' % (tmp_path / 'flows.sqlite')
    conf, big = big_waiting(zygote, tmp_path, url)
    small = zygote.run(conf, 'spawn', 'small', '--memory-mb', SMALL)
    assert small.rc == 0, small.stderr
    assert big.wait().rc == 0
    entries = {e['name']: e for e in kh.driver(conf).ledger.entries()
               .values()}
    assert entries['big'].get('overtaken_mb') == entries['small']['need_mb']
    assert entries['small']['rank'] < entries['big']['rank']


@pytest.mark.parametrize('index', range(3))
def test_killed_together_while_overtaking(db_url, zygote, tmp_path,
                                          tmp_path_factory, request, index):
    total = kh.count_events(zygote, tmp_path_factory, 'spawn')
    nth = kh.case_random(request.node.callspec.id).randint(1, total)
    conf, big = big_waiting(zygote, tmp_path, db_url)
    small = zygote.start(conf, 'spawn', 'small', '--memory-mb', SMALL,
                         point='group:%d' % nth, pgid=big.pid)
    results = [small.wait(), big.wait()]
    test_kill_random.check(zygote, conf, 'big and small killed together at '
                           'small\'s event %d of about %d' % (nth, total),
                           *results)
