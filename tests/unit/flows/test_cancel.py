"""A spawn's cancel event: the balloon wait stops and the flow reverts."""

import threading

import pytest

from tests import conftest
from xenballoon_driver import exception
from xenballoon_driver.flows import registry
from xenballoon_driver.flows import spawn as spawn_flow

GiB = conftest.GiB


def test_cancel_during_the_wait_reverts_everything(sim):
    host = sim()
    cancel = threading.Event()
    seen = []

    def progress(task, details):
        # Set while dom0 is halfway down: the next poll sees it.
        if 'fraction' in details:
            seen.append(details['fraction'])
            if details['fraction'] >= 0.5:
                cancel.set()
    with pytest.raises(exception.SpawnCancelled) as err:
        host.driver.spawn('vm1', 40 * GiB, progress=progress, cancel=cancel)
    assert err.value.name == 'vm1'
    assert err.value.exit_code == exception.EXIT_INTERRUPTED
    assert str(err.value) == ('The spawn of vm1 was cancelled before its '
                              'domain was built; it is undone')
    # Stopped at the next poll: dom0 was still on its way down.
    assert 0.5 <= seen[-1] < 1.0
    assert host.backend.list_domains() == []
    assert host.ledger.entries() == {}
    assert host.dom0().target_mb == 56 * GiB
    stored = host.driver.list_flows()
    assert [(f.request, f.state) for f in stored] == [('spawn vm1',
                                                       'REVERTED')]


def test_an_event_set_before_the_wait_stops_it_at_its_first_poll(sim):
    host = sim()
    cancel = threading.Event()
    cancel.set()
    waited = host.clock.now()
    with pytest.raises(exception.SpawnCancelled):
        host.driver.spawn('vm1', 20 * GiB, cancel=cancel)
    assert host.clock.now() == waited
    assert host.backend.list_domains() == []
    assert host.dom0().target_mb == 56 * GiB


def test_an_unset_event_changes_nothing(sim):
    host = sim()
    info = host.driver.spawn('vm1', 20 * GiB, cancel=threading.Event())
    assert info.state == 'running'


def test_the_event_is_never_stored_and_a_rebuilt_flow_has_none(sim):
    host = sim()
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(exception.SpawnCancelled):
        host.driver.spawn('vm1', 20 * GiB, cancel=cancel)
    conn = host.driver.persistence.get_connection()
    detail, = [fd for book in conn.get_logbooks() for fd in book]
    assert detail.meta == registry.meta(spawn_flow.FLOW_NAME,
                                        host.driver.host)
    flow = registry.rebuild(host.driver, detail)
    wait, = [node[0] for node in flow.iter_nodes()
             if node[0].name == spawn_flow.WAIT]
    assert wait.cancel is None and wait.recovering
