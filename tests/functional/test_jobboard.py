"""Two hosts' conductors on a real board and PostgreSQL; one killed.

Host A and host B (each its own simulated host, state dir and board)
keep their flows in one PostgreSQL database; a xenballoon-conductor
serves each. Spawns are posted to both boards; A's conductor is killed
(-9) in the middle of a balloon wait, at a seeded random fraction of it,
and started again: its job is taken back once the claim lapses, its
flow finished or reverted. Then: no job lost (every flow finished, every
board empty), none run twice, and on both hosts ledger + guests + Xen
never above the total (sampled throughout) and consistent at the end.

The board is the machine's Redis, or a private etcd (tests/etcd_server.py)
for the tests run on both backends and for etcd restarted under a
conductor. Skips without Redis, the etcd binary or PostgreSQL (fails
with XENBALLOON_REQUIRE_SERVICES=1).
"""

import time

import pytest

from tests import etcd_server
from tests.functional import base
from tests.functional import jobboard_harness as jh
from tests.functional import kill_harness as kh
from xenballoon_driver.jobboard import board as board_mod

GiB = 1024
# 8 GiB free, dom0 56 GiB down to 4: guests of 24 + 12 + 12 GiB fit, and
# each one waits for dom0 (2 GiB/s; time_scale 10: 0.4-0.8 s each).
SPAWNS = {'a': [('a-vm1', 24 * GiB), ('a-vm2', 12 * GiB),
                ('a-vm3', 12 * GiB)],
          'b': [('b-vm1', 12 * GiB), ('b-vm2', 24 * GiB),
                ('b-vm3', 12 * GiB)]}


@pytest.fixture(scope='module')
def etcd():
    with etcd_server.running() as server:
        yield server


@pytest.fixture(params=['redis', 'etcd'])
def board(request):
    """The board's options for jh.write_host, on each backend in turn."""
    if request.param == 'redis':
        return {'backend': 'redis',
                'board_url': request.getfixturevalue('redis_url')}
    return {'backend': 'etcd',
            'board_url': request.getfixturevalue('etcd').url}


def test_conductor_killed_in_a_balloon_wait(pg_url, board, tmp_path,
                                            request):
    rng = kh.case_random(request.node.name)
    fraction = rng.uniform(0.1, 0.7)
    prefix = jh.board_prefix()
    # A host name per backend: both runs keep their flows in one database.
    confs = {h: jh.write_host(tmp_path / h, pg_url, prefix,
                              'host-%s-%s' % (h, board['backend']), **board)
             for h in SPAWNS}
    drivers = {h: kh.driver(c) for h, c in confs.items()}
    conductors = {h: jh.Conductor(c, tmp_path / ('%s.log' % h)).start()
                  for h, c in confs.items()}
    try:
        flows = {h: jh.post_spawns(drivers[h], SPAWNS[h]) for h in SPAWNS}
        killed, (released, asked) = jh.kill_in_balloon_wait(
            conductors['a'], drivers['a'], flows['a'], fraction)
        assert 0 < released < asked
        problems = jh.memory_problems(drivers['a'])
        # The dead conductor's claim holds the job until it lapses.
        conductors['a'].start()
        problems += jh.wait_finished(
            [(drivers[h], flows[h]) for h in SPAWNS], timeout=60)
    finally:
        exits = {h: c.stop() for h, c in conductors.items()}
    assert exits == {'a': 0, 'b': 0}, exits
    counts = jh.run_counts(*conductors.values())
    for h in SPAWNS:
        states = jh.flow_states(drivers[h], flows[h])
        problems += ['%s: flow %s is %s' % (h, f, s)
                     for f, s in states.items() if s not in kh.FINISHED]
        problems += ['%s: flow %s started %d times as new' % (h, f, n)
                     for f, n in counts.items() if n > 1 and f in flows[h]]
        problems += ['%s: %s' % (h, p) for p in kh.consistency_problems(
            confs[h])]
        problems += jh.memory_problems(kh.driver(confs[h]))
    # The killed flow was taken back: finished or reverted, never rerun
    # from its start.
    assert counts[killed] == 1, counts
    others = [f for h in SPAWNS for f in flows[h] if f != killed]
    succeeded = [f for f in others
                 if jh.flow_states(drivers[f in flows['b'] and 'b' or 'a'],
                                   [f])[f] == 'SUCCESS']
    assert not problems, 'seed %d, killed at %.2f of a wait\n%s\n%s' % (
        kh.session_seed(), fraction, '\n'.join(problems),
        conductors['a'].log()[-3000:])
    assert len(succeeded) == len(others), succeeded


def test_cli_posts_lists_and_waits(pg_url, redis_url, tmp_path):
    conf = jh.write_host(tmp_path / 'c', pg_url, jh.board_prefix(),
                         'host-c')
    posted = base.run_cli([conf], 'spawn', 'c-vm1', '--memory-mb', 8 * GiB,
                          '--async', '-f', 'json').json()
    assert set(posted) == {'job_id', 'flow_id', 'name'}
    # No conductor yet: the job waits on the board, and a command's
    # start-up recovery leaves its flow alone.
    assert base.run_cli([conf], 'list', '-f', 'json').json() == []
    jobs, = base.run_cli([conf], 'jobs', '-f', 'json').json()
    assert (jobs['job_id'], jobs['flow_id'], jobs['state'], jobs['owner'],
            jobs['flow_state']) == (posted['job_id'], posted['flow_id'],
                                    'UNCLAIMED', '', 'PENDING')
    conductor = jh.Conductor(conf, tmp_path / 'c.log').start()
    try:
        waited = base.run_cli([conf], 'spawn', 'c-vm2', '--memory-mb',
                              8 * GiB, '-f', 'json').json()
        assert (waited['name'], waited['state']) == ('c-vm2', 'running')
        too_big = base.run_cli([conf], 'spawn', 'c-vm3', '--memory-mb',
                               63 * GiB)
        # The job's failure, as the command without a jobboard says it.
        assert too_big.rc == 3 and 'Cannot place c-vm3' in too_big.error
        drv = kh.driver(conf)
        assert jh.wait_finished([(drv, [posted['flow_id']])],
                                timeout=60) == []
    finally:
        assert conductor.stop() == 0
    names = {row['name'] for row in base.run_cli(
        [conf], 'list', '-f', 'json').json()}
    assert names == {'c-vm1', 'c-vm2'}
    assert base.run_cli([conf], 'jobs', '-f', 'json').json() == []
    assert kh.consistency_problems(conf) == []


def test_async_without_the_jobboard_is_refused(make_host):
    host = make_host()
    result = host.run('spawn', 'vm1', '--memory-mb', 1024, '--async')
    assert result.rc == 2
    assert '[jobboard] enabled' in result.error
    assert host.domains() == []


def test_the_oldest_job_is_handed_out_first(pg_url, redis_url, tmp_path):
    # taskflow's Redis board lists the newest first; ours the oldest.
    conf = jh.write_host(tmp_path / 'd', pg_url, jh.board_prefix(),
                         'host-d')
    drv = kh.driver(conf)
    flows = jh.post_spawns(drv, [('d-vm%d' % i, GiB) for i in range(5)])
    with board_mod.connected(drv.conf, drv.host, drv.persistence) as board:
        listed = [job.details['flow_uuid'] for job in board.iterjobs()]
        for job in board.iterjobs():
            board.claim(job, 'test')
            board.consume(job, 'test')
    assert listed == flows


def test_sigterm_suspends_the_job_and_a_restart_goes_on(pg_url, redis_url,
                                                        tmp_path):
    conf = jh.write_host(tmp_path / 'e', pg_url, jh.board_prefix(),
                         'host-e')
    drv = kh.driver(conf)
    conductor = jh.Conductor(conf, tmp_path / 'e.log').start()
    try:
        flow_id, = jh.post_spawns(drv, [('e-vm1', 24 * GiB)])
        deadline = time.monotonic() + 60
        while jh.waiting_flow(drv, [flow_id]) is None:
            assert time.monotonic() < deadline, conductor.log()
            time.sleep(0.01)
    finally:
        # The balloon wait runs to its end; the build is not started.
        assert conductor.stop() == 0, conductor.log()
    assert jh.flow_states(drv, [flow_id]) == {flow_id: 'SUSPENDED'}
    assert drv.list_instances() == []
    assert jh.jobs_left(drv) == 1
    conductor.start()
    try:
        assert jh.wait_finished([(drv, [flow_id])], timeout=60) == []
    finally:
        assert conductor.stop() == 0
    assert jh.flow_states(drv, [flow_id]) == {flow_id: 'SUCCESS'}
    assert drv.list_instances() == ['e-vm1']
    assert jh.run_counts(conductor) == {flow_id: 1}
    assert kh.consistency_problems(conf) == []


def test_no_redis_is_one_clear_error_and_nothing_stored(tmp_path):
    # Port 1: nothing listens there. No flow is saved, nothing posted.
    db = 'sqlite:///%s' % (tmp_path / 'flows.sqlite')
    conf = jh.write_host(tmp_path / 'f', db, 'xbtest', 'host-f',
                         board_url='redis://127.0.0.1:1')
    for args in (('spawn', 'f-vm1', '--memory-mb', GiB),
                 ('spawn', 'f-vm1', '--memory-mb', GiB, '--async'),
                 ('jobs',)):
        result = base.run_cli([conf], *args)
        assert result.rc == 9, result
        assert result.error.startswith(
            'error: Cannot use the jobboard at redis://127.0.0.1:1/0'), result
    assert base.run_cli([conf], 'flows', '-f', 'json').json() == []
    assert base.run_cli([conf], 'list', '-f', 'json').json() == []


def test_etcd_restarted_under_a_conductor(pg_url, etcd, tmp_path):
    # etcd killed (-9) in the middle of a balloon wait and started again
    # once the conductor has met its absence; jobs posted after the
    # restart are seen too (taskflow's watch died with the old server).
    conf = jh.write_host(tmp_path / 'g', pg_url, jh.board_prefix(),
                         'host-g', backend='etcd', board_url=etcd.url)
    drv = kh.driver(conf)
    conductor = jh.Conductor(conf, tmp_path / 'g.log').start()
    try:
        before = jh.post_spawns(drv, [('g-vm1', 24 * GiB),
                                      ('g-vm2', 12 * GiB)])
        deadline = time.monotonic() + 60
        while jh.waiting_flow(drv, before) is None:
            assert time.monotonic() < deadline, conductor.log()
            time.sleep(0.01)
        etcd.stop()
        try:
            while not any(words in conductor.log()
                          for words in jh.BOARD_TROUBLE):
                assert time.monotonic() < deadline, conductor.log()
                time.sleep(0.05)
        finally:
            etcd.start()
        after = jh.post_spawns(drv, [('g-vm3', 12 * GiB),
                                     ('g-vm4', 8 * GiB)])
        problems = jh.wait_finished([(drv, before + after)], timeout=60)
    finally:
        assert conductor.stop() == 0, conductor.log()[-3000:]
    assert not problems, '%s\n%s' % (problems, conductor.log()[-3000:])
    assert jh.flow_states(drv, before + after) == {
        f: 'SUCCESS' for f in before + after}
    assert jh.run_counts(conductor) == {f: 1 for f in before + after}
    assert sorted(drv.list_instances()) == ['g-vm%d' % i
                                            for i in range(1, 5)]
    assert kh.consistency_problems(conf) == []
