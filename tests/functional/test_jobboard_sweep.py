"""Nothing posted is forgotten, nothing posted is overbooked (issue 14).

On the real Redis and PostgreSQL:

- ``xenballoon spawn --async`` killed (-9) at seeded random points of
  its run (fault_runner.py's counted events), one of them the last: just
  after its flow was saved, before its job was posted (``xenballoon
  jobs`` lists it NOT POSTED). A second job is posted for an intact
  spawn's flow. The host's conductor, started
  then, sweeps (``[jobboard] sweep_grace_s = 0``): every saved spawn
  runs exactly once, the duplicate job is consumed without a run, the
  board ends empty and the host's state consistent.
- place() called again and again with no conductor running fills the
  host to its capacity and no further (NoValidHost); the conductor then
  runs every job: none refused for memory.

Skips without Redis or PostgreSQL (fails with
XENBALLOON_REQUIRE_SERVICES=1).
"""

import collections

import pytest

from tests.functional import jobboard_harness as jh
from tests.functional import kill_harness as kh
from xenballoon_driver import exception
from xenballoon_driver.flows import listing
from xenballoon_driver.hypervisor import base
from xenballoon_driver.jobboard import board as board_mod
from xenballoon_driver.jobboard import posting
from xenballoon_driver.scheduler import manager

GiB = 1024
# Random kills besides the one just before the post.
RANDOM_KILLS = 2


def sweeping_host(root, pg_url, name):
    conf = jh.write_host(root, pg_url, jh.board_prefix(), name,
                         time_scale=100)
    with open(conf, 'a') as out:  # [jobboard] is the file's last section
        out.write('sweep_grace_s = 0\n')
    return conf


def spawn_async(name):
    return ('spawn', name, '--memory-mb', 4 * GiB, '--async', '-f', 'json')


def host_flows(drv):
    return {detail.uuid: book.name for book, detail in
            listing.details(drv.persistence, drv.host)}


def test_a_poster_killed_before_posting_is_swept_and_run_once(
        pg_url, redis_url, tmp_path, tmp_path_factory, request):
    rng = kh.case_random(request.node.name)
    zygote = kh.zygote(tmp_path_factory)
    conf = sweeping_host(tmp_path / 'h', pg_url, 'host-sweep')
    drv = kh.driver(conf)
    count = tmp_path / 'events'
    intact = zygote.run(conf, *spawn_async('intact'),
                        point='count:%s' % count).json()
    events = int(count.read_text())
    points = [events] + [rng.randint(1, events)
                         for _ in range(RANDOM_KILLS)]
    killed = {}
    for i, nth in enumerate(points):
        result = zygote.run(conf, *spawn_async('killed%d' % i),
                            point='nth:%d' % nth)
        assert result.rc == -9, result
        killed['spawn killed%d' % i] = (nth, result.stderr.strip())
    # The last event: the flow saved, its job not posted.
    assert 'after Connection.save_logbook' in killed['spawn killed0'][1]
    # A duplicate job for the intact spawn's flow.
    with board_mod.connected(drv.conf, drv.host, drv.persistence) as board:
        book, detail = next((b, d) for b, d in listing.details(
            drv.persistence, drv.host) if d.uuid == intact['flow_id'])
        posting.post_again(board, book, detail)
        assert board.job_count == 2
    saved = host_flows(drv)
    assert 'spawn killed0' in saved.values()
    # ``xenballoon jobs`` shows the flows saved and never posted.
    rows = zygote.run(conf, 'jobs', '-f', 'json').json()
    assert sorted((r['state'], r['name']) for r in rows) == sorted(
        [('UNCLAIMED', 'spawn intact')] * 2 +
        [('NOT POSTED', name) for name in saved.values()
         if name != 'spawn intact'])
    conductor = jh.Conductor(conf, tmp_path / 'c.log').start()
    try:
        problems = jh.wait_finished([(drv, list(saved))], timeout=120)
    finally:
        assert conductor.stop() == 0
    log = conductor.log()
    runs = jh.run_counts(conductor)
    states = jh.flow_states(drv, saved)
    why = 'seed %d, events %d, kills %s\n%s' % (
        kh.session_seed(), events, killed, log)
    assert problems == [], why
    # Every saved spawn ran once, and succeeded (the host has room).
    assert {saved[f]: (states[f], runs[f]) for f in saved} == {
        name: ('SUCCESS', 1) for name in saved.values()}, why
    assert log.count('its job was never posted') == sum(
        1 for name in saved.values() if name != 'spawn intact'), why
    names = collections.Counter(drv.list_instances())
    assert names == collections.Counter(
        name.split()[1] for name in saved.values()), why
    assert kh.consistency_problems(conf) == [], why


def test_place_calls_with_no_conductor_fill_a_host_and_no_more(
        pg_url, redis_url, tmp_path):
    conf = jh.write_host(tmp_path / 'p', pg_url, jh.board_prefix(),
                         'host-place', time_scale=100)
    drv = kh.driver(conf)
    spec = base.DomainSpec('g', 12 * GiB)
    room = drv.get_available_resource()['xenballoon'][
        'available_mb'] // spec.footprint_mb
    sched = manager.Scheduler(drv.conf)
    flows = []
    try:
        for i in range(room):
            (_pick, (_job, flow_id)), = sched.place(
                base.DomainSpec('g%d' % i, 12 * GiB), {drv.host: drv})
            flows.append(flow_id)
        with pytest.raises(exception.NoValidHost):
            sched.place(base.DomainSpec('over', 12 * GiB), {drv.host: drv})
    finally:
        sched.close()
    conductor = jh.Conductor(conf, tmp_path / 'p.log').start()
    try:
        problems = jh.wait_finished([(drv, flows)], timeout=120)
    finally:
        assert conductor.stop() == 0
    assert problems == []
    assert set(jh.flow_states(drv, flows).values()) == {'SUCCESS'}
    assert len(drv.list_instances()) == room >= 2
    assert kh.consistency_problems(conf) == []
