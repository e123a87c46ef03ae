"""Our etcd board against a real, private etcd (tests/etcd_server.py).

Claims held by an etcd lease that lapses unless refreshed, the oldest
job handed out first, the owner as ``xenballoon jobs`` shows it, etcd
restarted or gone. Skips without the etcd binary (fails with
XENBALLOON_REQUIRE_SERVICES=1). The one real wait is a lease's lapse
(etcd's clock: 2 s, its shortest lease), polled for.
"""

import random
import threading
import time
import uuid

import pytest
from taskflow import exceptions as tf_exceptions
from taskflow.jobs import base as jobs_base

from tests import etcd_server
from xenballoon_driver import exception
from xenballoon_driver.jobboard import board as board_mod
from xenballoon_driver.jobboard import conductor as conductor_mod
from xenballoon_driver.jobboard import etcd_board

EXPIRY = 2.0


@pytest.fixture(scope='module')
def etcd():
    with etcd_server.running() as server:
        yield server


def make(etcd, path, expiry=EXPIRY):
    board = etcd_board.Board('b', {'host': '127.0.0.1', 'port': etcd.port,
                                   'path': path, 'timeout': 10}, expiry)
    board.connect()
    return board


@pytest.fixture
def boards(etcd):
    """Factory: boards on one fresh path, connected; closed after."""
    path = 'xbtest-%s' % uuid.uuid4().hex[:10]
    made = []

    def factory(expiry=EXPIRY):
        made.append(make(etcd, path, expiry))
        return made[-1]
    yield factory
    for board in made:
        board.close()


def wait_for(predicate, what, timeout=30):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, 'no ' + what
        time.sleep(0.05)


def test_a_claim_has_one_owner(boards):
    poster, c1, c2 = boards(), boards(), boards()
    posted = poster.post('spawn vm1', details={'flow_uuid': 'f1'})
    job, = c1.iterjobs()
    assert (job.uuid, job.details, job.state) == (posted.uuid,
                                                  {'flow_uuid': 'f1'},
                                                  'UNCLAIMED')
    assert c1.find_owner(job) is None
    c1.claim(job, 'c1')
    theirs, = c2.iterjobs()
    assert (theirs.state, c2.find_owner(theirs)) == ('CLAIMED', 'c1')
    with pytest.raises(tf_exceptions.UnclaimableJob, match="'c1'"):
        c2.claim(theirs, 'c2')
    c1.consume(job, 'c1')
    assert (poster.job_count, list(c2.iterjobs())) == (0, [])


def test_a_claim_lapses_unless_refreshed(boards):
    # Two claims at once: one refreshed (as the conductor does, 3 times
    # per period), the other not. Only the second lapses.
    poster, c1 = boards(), boards()
    for name in ('kept', 'left'):
        poster.post(name)
    kept, left = c1.iterjobs()
    c1.claim(kept, 'c1')
    c1.claim(left, 'c1')
    refreshes = []
    while left.state == 'CLAIMED':
        refreshes.append(kept.extend_expiry(EXPIRY))
        time.sleep(EXPIRY / conductor_mod.REFRESHES)
        assert len(refreshes) < 100, 'the unrefreshed claim never lapsed'
    assert all(refreshes) and len(refreshes) >= 2, refreshes
    assert (kept.state, c1.find_owner(kept)) == ('CLAIMED', 'c1')
    # The lapsed one: its refresh says so, and anyone may claim it.
    assert left.extend_expiry(EXPIRY) is False
    c2 = boards()
    _, theirs = c2.iterjobs()
    c2.claim(theirs, 'c2')
    assert c1.find_owner(left) == 'c2'


def test_the_conductor_claims_a_lapsed_job_again(boards, sim):
    # Its lease gone (revoked: as if it had lapsed), the job's refresher
    # claims it again, then keeps the new claim alive.
    poster, board = boards(), boards()
    poster.post('spawn vm1')
    job, = board.iterjobs()
    board.claim(job, 'c1:1')
    conductor = conductor_mod.Conductor('c1:1', sim().driver, board, 0.01)
    job.lease.revoke()
    assert job.state == 'UNCLAIMED'
    done = threading.Event()
    refresher = threading.Thread(target=conductor._refresh,
                                 args=(job, done, 0.05))
    refresher.start()
    try:
        wait_for(lambda: job.state == 'CLAIMED', 'claim again')
        first = job.lease.id
        wait_for(lambda: job.extend_expiry(EXPIRY), 'refresh')
    finally:
        done.set()
        refresher.join()
    assert board.find_owner(job) == 'c1:1'
    assert job.lease.id == first and job.expires_in() > 0


@pytest.mark.parametrize('seed', range(3))
def test_the_oldest_job_is_handed_out_first(boards, seed):
    rng = random.Random(seed)
    poster = boards()
    priorities = [rng.choice(list(jobs_base.JobPriority)) for _ in range(8)]
    posted = [poster.post('j%d' % i, priority=p)
              for i, p in enumerate(priorities)]
    rank = {p: r for r, p in enumerate(jobs_base.JobPriority)}
    expected = [job.uuid for job in sorted(
        posted, key=lambda job: (rank[job.priority], job.sequence))]
    # A board connected after the posts, and the poster's own.
    assert [job.uuid for job in boards().iterjobs()] == expected, seed
    assert [job.uuid for job in poster.iterjobs()] == expected, seed


def test_boards_of_two_hosts_are_apart(etcd):
    a = make(etcd, 'xbtest-%s-a' % uuid.uuid4().hex[:8])
    b = make(etcd, a._conf['path'][:-1] + 'b')
    try:
        a.post('on a')
        assert (a.job_count, b.job_count, list(b.iterjobs())) == (1, 0, [])
    finally:
        a.close()
        b.close()


def test_an_etcd_restart_loses_no_job_and_no_claim(etcd, boards):
    poster, c1 = boards(), boards()
    poster.post('before')
    before, = c1.iterjobs()
    c1.claim(before, 'c1')
    etcd.stop()
    try:
        with pytest.raises(tf_exceptions.JobFailure,
                           match='etcd: .*Connection refused'):
            list(c1.iterjobs())
        with pytest.raises(tf_exceptions.JobFailure):
            poster.post('while down')
        with pytest.raises(Exception):
            before.extend_expiry(EXPIRY)
    finally:
        etcd.start()
    # The boards connected before see what is posted after: taskflow's
    # watch died with the old server.
    after = poster.post('after')
    assert [job.uuid for job in c1.iterjobs()] == [before.uuid, after.uuid]
    assert before.extend_expiry(EXPIRY) is True
    assert c1.find_owner(before) == 'c1'


def test_no_etcd_is_one_clear_error(conf):
    conf.flags('jobboard', enabled=True, backend='etcd',
               url='etcd://127.0.0.1:1')
    with pytest.raises(exception.JobboardUnavailable) as err:
        with board_mod.connected(conf, 'h1', None):
            pass
    assert str(err.value).startswith(
        'Cannot use the jobboard at http://127.0.0.1:1: etcd: [Errno 111] '
        'Connection refused'), err.value


def test_a_closed_board_leaves_no_thread_behind(etcd):
    # A conductor's interpreter waits for every thread at exit: one left
    # reading a watch kept a stopped conductor alive.
    before = set(threading.enumerate())
    board = make(etcd, 'xbtest-%s' % uuid.uuid4().hex[:10])
    board.post('spawn t1', details={'flow_uuid': 'f1'})
    assert [job.name for job in board.iterjobs()] == ['spawn t1']
    board.close()
    assert set(threading.enumerate()) == before
