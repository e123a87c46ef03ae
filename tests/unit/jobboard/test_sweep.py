"""The sweep: a flow saved but never posted gets its job, once.

A poster killed between saving the flow and posting its job is stood in
for by posting.post against a board whose post fails (the job never
reaches it). The board is the fake of fakes.py, listing its jobs as
taskflow's iterjobs does (claimed or not).
"""

import contextlib
import datetime

import pytest

from tests import conftest
from tests.unit.jobboard import fakes
from xenballoon_driver.flows import engine
from xenballoon_driver.flows import listing
from xenballoon_driver.flows import spawn as spawn_flow
from xenballoon_driver.jobboard import conductor as conductor_mod
from xenballoon_driver.jobboard import posting
from xenballoon_driver.jobboard import sweep

GiB = conftest.GiB


class Board(fakes.Board):
    """The fake board; ``dead`` makes the next post die."""

    dead = False

    def post(self, name, book=None, details=None):
        if self.dead:
            self.dead = False
            raise Died()
        return super().post(name, book=book, details=details)

    def consume(self, job):
        self.posted.remove(job)


class Died(BaseException):
    """The poster's process killed between its two steps."""


def unposted_spawn(driver, board, name, memory_mb=8 * GiB):
    """Save a spawn's flow, its poster dying before the post; its id."""
    before = {d.uuid for _b, d in listing.details(driver.persistence)}
    board.dead = True
    with pytest.raises(Died):
        posting.post_spawn(driver, board,
                           posting.spawn_spec(name, memory_mb))
    flow_id, = {d.uuid for _b, d in listing.details(
        driver.persistence)} - before
    return flow_id


def later(seconds):
    return (datetime.datetime.now(datetime.timezone.utc) +
            datetime.timedelta(seconds=seconds))


@pytest.fixture
def host(sim):
    return sim()


def test_a_flow_never_posted_is_posted_again_past_the_grace(host, caplog):
    drv = host.driver
    board = Board(drv.persistence)
    flow_id = unposted_spawn(drv, board, 'vm1')
    # Start-up recovery leaves it alone: it is a job's flow.
    assert drv.recover()[0] == []
    # Younger than the grace: its poster may still post it.
    assert sweep.sweep(drv, board, grace_s=60) == []
    assert board.posted == []
    (swept, job_id), = sweep.sweep(drv, board, grace_s=60, now=later(61))
    assert swept == flow_id
    job, = board.posted
    assert (job.uuid, job.name) == (job_id, 'spawn vm1')
    assert job.details == {'flow_uuid': flow_id,
                           'factory': spawn_flow.FLOW_NAME,
                           'args': {}, 'host': drv.host}
    assert 'was never posted' in caplog.text
    # Once on the board, never again.
    assert sweep.sweep(drv, board, grace_s=0, now=later(3600)) == []
    # The conductor runs it as a job posted in the usual way.
    conductor = conductor_mod.Conductor('c1', drv, board, 0.01)
    assert conductor._dispatch_job(job) is True
    assert drv.list_instances() == ['vm1']


def test_posted_flows_held_and_finished_ones_are_left_alone(host):
    drv = host.driver
    board = Board(drv.persistence)
    posted_job, _ = posting.post_spawn(drv, board,
                                       posting.spawn_spec('vm1', 8 * GiB))
    held = unposted_spawn(drv, board, 'vm2')
    ended = unposted_spawn(drv, board, 'vm3')
    rewrite(drv, ended, state='REVERTED')
    with engine.owning(drv.lock_dir, held):
        # Run elsewhere now (its lock held): its job is on the board.
        assert sweep.sweep(drv, board, grace_s=0) == []
    assert board.posted == [posted_job]
    (swept, _), = sweep.sweep(drv, board, grace_s=0)
    assert swept == held


def test_a_duplicate_job_runs_its_flow_once(host):
    drv = host.driver
    board = Board(drv.persistence)
    first, flow_id = posting.post_spawn(drv, board,
                                        posting.spawn_spec('vm1', 8 * GiB))
    # A sweep racing a slow poster: a second job for the same flow.
    second = posting.post_again(board, *[
        (b, d) for b, d in listing.details(drv.persistence)
        if d.uuid == flow_id][0])
    conductor = conductor_mod.Conductor('c1', drv, board, 0.01)
    assert conductor._dispatch_job(second) is True
    assert conductor._dispatch_job(first) is True  # consumed, not run
    assert conductor.ran == 1
    assert drv.list_instances() == ['vm1']
    assert posting.stored(drv.persistence, flow_id).state == 'SUCCESS'


def test_other_hosts_flows_are_not_swept(host):
    drv = host.driver
    board = Board(drv.persistence)
    flow_id = unposted_spawn(drv, board, 'vm1')
    rewrite(drv, flow_id, meta={'host': 'elsewhere'})
    assert sweep.sweep(drv, board, grace_s=0) == []


def rewrite(driver, flow_id, state=None, meta=None):
    detail = posting.stored(driver.persistence, flow_id)
    detail.state = state or detail.state
    detail.meta = dict(detail.meta, **(meta or {}))
    with contextlib.closing(driver.persistence.get_connection()) as conn:
        conn.update_flow_details(detail)


@pytest.mark.parametrize('option, bad', [
    ('sweep_interval_s', 0), ('sweep_interval_s', 86401),
    ('sweep_grace_s', -1), ('sweep_grace_s', 86401)])
def test_the_sweep_options_have_bounds(conf, option, bad):
    assert (conf.jobboard.sweep_interval_s,
            conf.jobboard.sweep_grace_s) == (60.0, 30.0)
    with pytest.raises(ValueError):
        conf.flags('jobboard', **{option: bad})
