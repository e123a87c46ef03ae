"""place() counts the spawns posted on a host's board not reserved yet.

Separate place() calls, no conductor running in between: each later call
sees the jobs of the earlier ones (fake boards: tests/unit/jobboard/
fakes.py), until their conductor reserves (then the ledger counts them,
and place() does not again).
"""

import contextlib

import pytest

from tests import conftest
from tests.unit.jobboard import fakes
from xenballoon_driver import exception
from xenballoon_driver.hypervisor import base
from xenballoon_driver.jobboard import conductor as conductor_mod
from xenballoon_driver.jobboard import posting
from xenballoon_driver.scheduler import manager

GiB = conftest.GiB


@pytest.fixture
def hosts(conf):
    """Two hosts, 64 GiB, dom0 at 32 GiB; each its own fake board."""
    conf.flags('jobboard', enabled=True)
    made = {}
    for name in ('a', 'b'):
        made[name] = conftest.SimHost(conf, conftest.make_scenario(
            host={'total_mb': 64 * GiB, 'dom0_mb': 32 * GiB},
            balloon={'release_rate_mb_s': 1024}))
        made[name].driver.host = name
    return made


@pytest.fixture
def sched(conf):
    sched = manager.Scheduler(conf)
    sched.boards = fakes.Boards()
    return sched


def drivers(hosts):
    return {name: host.driver for name, host in hosts.items()}


def available(host):
    return host.driver.get_available_resource()['xenballoon'][
        'available_mb']


def run_jobs(hosts, sched):
    """Each host's conductor runs its board's jobs in turn; their flows."""
    flows = []
    for name, host in hosts.items():
        board = sched.boards.get(host.driver)
        conductor = conductor_mod.Conductor('c-' + name, host.driver, board,
                                            0.01)
        for job in board.iterjobs():
            assert conductor._dispatch_job(job) is True
            flows.append((host, job.details['flow_uuid']))
    return flows


def test_a_burst_of_place_calls_never_overbooks(hosts, sched):
    spec = base.DomainSpec('g', 12 * GiB)
    room = {n: available(h) // spec.footprint_mb for n, h in hosts.items()}
    placed = []
    for i in range(sum(room.values())):
        (pick, _), = sched.place(base.DomainSpec('g%d' % i, 12 * GiB),
                                 drivers(hosts))
        placed.append(pick.host)
    # Each host took what it holds, not one more: the next has no room.
    assert {n: placed.count(n) for n in hosts} == room
    with pytest.raises(exception.NoValidHost):
        sched.place(base.DomainSpec('one-more', 12 * GiB), drivers(hosts))
    # Then the conductors run them: none refused for memory.
    for host, flow_id in run_jobs(hosts, sched):
        assert posting.wait(host.driver, flow_id, 0.01)
    assert sum(len(h.driver.list_instances()) for h in hosts.values()) == \
        len(placed)


def test_a_reserved_or_ended_job_counts_nothing(hosts, sched):
    one = {'a': hosts['a'].driver}
    before = available(hosts['a'])
    spec = base.DomainSpec('vm1', 8 * GiB)
    (_, (job, flow_id)), = sched.place(spec, one)
    state, = sched.posted_host_states(one)
    assert (state.posted, state.available_mb) == (
        1, before - spec.footprint_mb)
    # Run (the fake board keeps the job): the ledger counts it, not place.
    run_jobs({'a': hosts['a']}, sched)
    state, = sched.posted_host_states(one)
    assert (state.posted, state.available_mb) == (
        0, available(hosts['a']))
    # A reverted flow, and one gone from the database, count nothing.
    for name, end in (('vm2', revert), ('vm3', forget)):
        (_, (_job, flow_id)), = sched.place(base.DomainSpec(name, 8 * GiB),
                                            one)
        end(hosts['a'].driver, flow_id)
    state, = sched.posted_host_states(one)
    assert (state.posted, state.available_mb) == (
        0, available(hosts['a']))


def test_a_jobs_flow_is_read_in_full_once_then_its_state_only(
        hosts, sched, monkeypatch):
    drv = hosts['a'].driver
    one = {'a': drv}
    (_, (_job, flow_id)), = sched.place(base.DomainSpec('vm1', 8 * GiB),
                                        one)
    lazy = []
    real_connection = drv.persistence.get_connection

    def get_connection():
        conn = real_connection()
        real_read = conn.get_flow_details

        def read(uuid, **kw):
            lazy.append(kw.get('lazy', False))
            return real_read(uuid, **kw)
        conn.get_flow_details = read
        return conn
    monkeypatch.setattr(drv.persistence, 'get_connection', get_connection)
    counted = [sched.posted_host_states(one)[0].posted for _ in range(2)]
    revert(drv, flow_id)
    del lazy[2:]  # revert's own read
    counted += [sched.posted_host_states(one)[0].posted for _ in range(2)]
    # Ended at the third look: never read again.
    assert (counted, lazy) == ([1, 1, 0, 0], [False, True, True])


@pytest.mark.parametrize('when, times', [
    # Reserved after the ledger's entries were read, before the figures:
    # in the figures and counted as posted (twice, never zero times).
    ('entries', 2),
    # Reserved after the figures: counted as posted only.
    ('figures', 1),
])
def test_a_job_reserving_meanwhile_counts_at_least_once(hosts, sched,
                                                        monkeypatch, when,
                                                        times):
    drv = hosts['a'].driver
    one = {'a': drv}
    before = available(hosts['a'])
    spec = base.DomainSpec('vm1', 8 * GiB)
    (_, (_job, flow_id)), = sched.place(spec, one)

    def reserve():
        drv.ledger.reserve(drv.backend, 'vm1', spec.footprint_mb,
                           res_id=flow_id)
    if when == 'entries':
        real = drv.ledger.entries
        monkeypatch.setattr(drv.ledger, 'entries',
                            lambda: after(real(), reserve))
    else:
        real = drv.get_available_resource
        monkeypatch.setattr(drv, 'get_available_resource',
                            lambda name=None: after(real(name), reserve))
    state, = sched.posted_host_states(one)
    assert state.available_mb == before - times * spec.footprint_mb


def after(value, action):
    action()
    return value


def revert(driver, flow_id):
    detail = posting.stored(driver.persistence, flow_id)
    detail.state = 'REVERTED'
    with contextlib.closing(driver.persistence.get_connection()) as conn:
        conn.update_flow_details(detail)


def forget(driver, flow_id):
    with contextlib.closing(driver.persistence.get_connection()) as conn:
        for book in conn.get_logbooks():
            if any(d.uuid == flow_id for d in book):
                conn.destroy_logbook(book.uuid)
