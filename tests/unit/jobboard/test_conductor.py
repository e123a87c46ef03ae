"""The conductor: our registry's flows, one lock per flow, claims kept.

Its dispatch runs on the simulated host's virtual clock; the board and
its jobs are fakes (fakes.py). A process killed mid-flow is stood in for
by an exception no task catches (BaseException), as in
tests/unit/flows/test_recovery.py.
"""

import pytest
from taskflow import states

from tests import conftest
from tests.unit.jobboard import fakes
from xenballoon_driver import exception
from xenballoon_driver.flows import engine
from xenballoon_driver.flows import names
from xenballoon_driver.jobboard import conductor as conductor_mod
from xenballoon_driver.jobboard import posting

GiB = conftest.GiB


class Killed(BaseException):
    pass


@pytest.fixture
def host(sim):
    return sim()


def make(host, expiry=30.0):
    board = fakes.Board(host.driver.persistence, claim_expiry_s=expiry)
    return board, conductor_mod.Conductor('c1', host.driver, board, 0.01)


def post(host, board, name, memory_mb):
    return posting.post_spawn(host.driver, board,
                              posting.spawn_spec(name, memory_mb))


def test_a_new_job_runs_and_its_result_is_read_back(host):
    board, conductor = make(host)
    job, flow_id = post(host, board, 'vm1', 24 * GiB)
    assert conductor._dispatch_job(job) is True
    results = posting.wait(host.driver, flow_id, 0.01)
    assert results[names.DOMAIN]['name'] == 'vm1'
    assert results[names.BALLOON_REPORT]['released_mb'] > 0
    assert host.driver.list_instances() == ['vm1']


def test_a_failed_job_is_reverted_and_its_error_read_back(host):
    board, conductor = make(host)
    job, flow_id = post(host, board, 'huge', 63 * GiB)
    assert conductor._dispatch_job(job) is True  # consumed: it ended
    with pytest.raises(exception.NotEnoughMemory) as err:
        posting.wait(host.driver, flow_id, 0.01)
    assert err.value.message.startswith('Cannot place huge')
    assert host.driver.list_instances() == [] and host.ledger.entries() == {}


def test_a_finished_flow_is_consumed_without_running_again(host):
    board, conductor = make(host)
    job, flow_id = post(host, board, 'vm1', 8 * GiB)
    conductor._dispatch_job(job)
    assert conductor._dispatch_job(job) is True
    assert conductor.ran == 1
    assert host.driver.list_instances() == ['vm1']


def test_a_flow_held_elsewhere_is_left_for_later(host):
    board, conductor = make(host)
    job, flow_id = post(host, board, 'vm1', 8 * GiB)
    with engine.owning(host.driver.lock_dir, flow_id):
        assert conductor._dispatch_job(job) is False  # abandoned
    assert conductor.ran == 0
    assert posting.stored(host.driver.persistence,
                          flow_id).state == states.PENDING


def test_an_interrupted_job_is_taken_back_in_recovery_mode(host):
    board, conductor = make(host)
    job, flow_id = post(host, board, 'vm1', 24 * GiB)
    real = host.backend.create_domain

    def die(*args, **kwargs):
        raise Killed()
    host.backend.create_domain = die
    with pytest.raises(Killed):
        conductor._dispatch_job(job)
    host.backend.create_domain = real
    # Another conductor (or this one restarted) claims it again: the
    # flow is undone, never started anew.
    _board, again = make(host)
    assert again._dispatch_job(job) is True
    with pytest.raises(exception.Interrupted):
        posting.wait(host.driver, flow_id, 0.01)
    assert host.driver.list_instances() == [] and host.ledger.entries() == {}
    assert host.dom0().target_mb == 56 * GiB


def test_the_claim_is_refreshed_while_the_job_runs(host):
    board, conductor = make(host, expiry=0.03)
    job = fakes.Job('j', 'spawn x', None, {})
    with conductor._claim_kept(job):
        assert job.refreshed.wait(30)
    assert board.claims == []


def test_a_claim_redis_forgot_is_taken_again(host):
    board, conductor = make(host, expiry=0.03)
    job = fakes.Job('j', 'spawn x', None, {})
    job.claim_alive = False
    with conductor._claim_kept(job):
        assert job.refreshed.wait(30)
    assert ('j', 'c1') in board.claims


def test_a_stopping_conductor_suspends_its_job_and_another_goes_on(host):
    board, conductor = make(host)
    job, flow_id = post(host, board, 'vm1', 24 * GiB)
    real = host.backend.set_dom0_target

    def stop_then_set(target_mb):
        # As on SIGTERM in the balloon task: the engine stops after it.
        conductor.stop()
        host.backend.set_dom0_target = real
        return real(target_mb)
    host.backend.set_dom0_target = stop_then_set
    assert conductor._dispatch_job(job) is False  # abandoned
    detail = posting.stored(host.driver.persistence, flow_id)
    assert detail.state == states.SUSPENDED
    assert host.driver.list_instances() == []
    # Start-up recovery leaves it to the conductors, reservation held.
    recovered, _ = host.driver.recover()
    assert recovered == [] and len(host.ledger.entries()) == 1
    _board, again = make(host)
    assert again._dispatch_job(job) is True
    results = posting.wait(host.driver, flow_id, 0.01)
    assert results[names.DOMAIN]['name'] == 'vm1'
    assert host.driver.list_instances() == ['vm1']
