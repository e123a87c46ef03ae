"""Where a simulated host lives: MemoryStore and the CLI's FileStore."""

import json
import time

import pytest

from tests import conftest
from xenballoon_driver import clock as clock_mod
from xenballoon_driver import exception
from xenballoon_driver.simulator import backend as simulated
from xenballoon_driver.simulator import model as model_mod
from xenballoon_driver.simulator import store as store_mod

GiB = conftest.GiB
DOM0 = 56 * GiB


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / 'state' / 'simulated-host.json')


def scenario(**balloon):
    return conftest.make_scenario(balloon=balloon)


def test_memory_store_session_advances_the_model_to_the_clock():
    model = model_mod.HostModel(scenario())
    clock = clock_mod.VirtualClock()
    store = store_mod.MemoryStore(model, clock)
    with store.session() as m:
        assert m is model
        m.set_dom0_target(46 * GiB)
    clock.sleep(4)
    with store.session() as m:
        assert m.now == 4
        assert m.dom0_mb == DOM0 - 4 * 1024


def test_file_store_creates_the_state_file(path, wall):
    store = store_mod.FileStore(path, scenario(), time_scale=50)
    with open(path) as f:
        state = json.load(f)
    assert state['version'] == store_mod.STATE_VERSION
    assert state['time_scale'] == 50
    assert state['epoch'] == wall.wall
    assert state['scenario']['host']['dom0_mb'] == DOM0
    assert state['model']['dom0_mb'] == DOM0
    assert store.clock.now() == 0.0


def test_host_persists_between_two_stores(path, wall):
    first = store_mod.FileStore(path, scenario(), time_scale=100)
    with first.session() as m:
        m.set_dom0_target(50 * GiB)
        m.start_build('vm1', 1024, 2)
    # A second process opens the same file; its own scenario is ignored.
    other = conftest.make_scenario(host={'total_mb': 128 * GiB})
    second = store_mod.FileStore(path, other, time_scale=100)
    assert second.scenario.host.total_mb == 64 * GiB
    with second.session() as m:
        assert m.total_mb == 64 * GiB
        assert m.dom0_target_mb == 50 * GiB
        assert set(m.domains) == {'vm1'}
        assert m.domains['vm1']['vcpus'] == 2
        m.destroy('vm1')
    with first.session() as m:
        assert m.domains == {}


def test_dom0_keeps_ballooning_between_sessions(path, wall):
    first = store_mod.FileStore(path, scenario(), time_scale=100)
    with first.session() as m:
        m.set_dom0_target(46 * GiB)
    wall.wall += 0.05                      # 5 simulated seconds
    second = store_mod.FileStore(path, scenario(), time_scale=100)
    with second.session() as m:
        assert m.now == pytest.approx(5.0)
        assert m.dom0_mb == pytest.approx(DOM0 - 5 * 1024)
    wall.wall += 1.0                       # 100 s more: target reached
    with first.session() as m:
        assert m.now == pytest.approx(105.0)
        assert m.dom0_mb == pytest.approx(46 * GiB)
        assert m.target_reached_at == pytest.approx(10.0)


def test_dom0_keeps_ballooning_in_real_time(path):
    # Real wall time, scaled 1000x: 0.05 s of sleep is 50 simulated s.
    first = store_mod.FileStore(path, scenario(release_rate_mb_s=100),
                                time_scale=1000)
    with first.session() as m:
        m.set_dom0_target(6 * GiB)
        asked_at = m.now
    time.sleep(0.05)
    second = store_mod.FileStore(path, scenario(), time_scale=1000)
    with second.session() as m:
        elapsed = m.now - asked_at
        assert elapsed >= 50.0
        assert m.dom0_mb == pytest.approx(max(6 * GiB, DOM0 - 100 * elapsed))
        assert m.dom0_mb <= DOM0 - 5000


def test_a_new_time_scale_keeps_simulated_time_continuous(path, wall):
    store_mod.FileStore(path, scenario(), time_scale=1000)
    wall.wall += 10.0                       # 10000 simulated seconds
    slower = store_mod.FileStore(path, scenario(), time_scale=10)
    assert slower.clock.scale == 10
    assert slower.clock.now() == pytest.approx(10000.0)
    wall.wall += 1.0
    assert slower.clock.now() == pytest.approx(10010.0)
    # The new scale and epoch are saved: a third store agrees.
    with open(path) as f:
        assert json.load(f)['time_scale'] == 10
    again = store_mod.FileStore(path, scenario(), time_scale=10)
    assert again.clock.now() == pytest.approx(10010.0)
    with again.session() as m:
        assert m.now == pytest.approx(10010.0)
    faster = store_mod.FileStore(path, scenario(), time_scale=100000)
    assert faster.clock.now() == pytest.approx(10010.0)
    wall.wall += 0.001
    assert faster.clock.now() == pytest.approx(10110.0)


def test_model_time_never_runs_backwards_across_scales(path, wall):
    store = store_mod.FileStore(path, scenario(), time_scale=1000)
    wall.wall += 1.0
    with store.session() as m:
        m.set_dom0_target(6 * GiB)
        before = m.now
    slower = store_mod.FileStore(path, scenario(), time_scale=1)
    with slower.session() as m:
        assert m.now == pytest.approx(before)
        assert m.dom0_mb == pytest.approx(DOM0)


def test_an_error_inside_a_session_saves_nothing(path, wall):
    store = store_mod.FileStore(path, scenario(), time_scale=100)
    with open(path) as f:
        before = f.read()
    with pytest.raises(RuntimeError):
        with store.session() as m:
            m.start_build('vm1', 1024, 1)
            raise RuntimeError('boom')
    with open(path) as f:
        assert f.read() == before
    with store.session() as m:
        assert m.domains == {}


@pytest.mark.parametrize('content', ['{"version": 1, "mod', '', 'nonsense'])
def test_corrupt_state_file_is_invalid_input(path, content):
    store_mod.FileStore(path, scenario())
    with open(path, 'w') as f:
        f.write(content)
    with pytest.raises(exception.InvalidInput) as err:
        store_mod.FileStore(path, scenario())
    message = str(err.value)
    assert message.startswith('Invalid simulator state file %s: ' % path)
    assert 'remove it to start a fresh host' in message


@pytest.mark.parametrize('state', [[1, 2], {'version': 99}, {}, 'text'])
def test_state_file_of_unknown_format(path, state):
    store_mod.FileStore(path, scenario())
    with open(path, 'w') as f:
        json.dump(state, f)
    with pytest.raises(exception.InvalidInput,
                       match='unknown format; remove it to start a fresh'):
        store_mod.FileStore(path, scenario())


def test_state_file_corrupted_between_sessions(path):
    store = store_mod.FileStore(path, scenario(), time_scale=100)
    with open(path, 'w') as f:
        f.write('{')
    with pytest.raises(exception.InvalidInput, match=path):
        with store.session():
            pass


def test_state_file_missing_keys_is_invalid_input(path):
    store_mod.FileStore(path, scenario())
    with open(path, 'w') as f:
        json.dump({'version': store_mod.STATE_VERSION}, f)
    with pytest.raises(exception.InvalidInput, match='remove it'):
        store = store_mod.FileStore(path, scenario())
        with store.session():
            pass


def test_instance_uuid_is_saved_and_an_old_state_without_it_loads(path,
                                                                  wall):
    uuid = '1b4e28ba-2fa1-11d2-883f-0016d3cca427'
    first = store_mod.FileStore(path, scenario(), time_scale=100)
    with first.session() as m:
        m.start_build('vm1', 1024, 1, uuid=uuid)
        m.start_build('vm2', 1024, 1)
    with store_mod.FileStore(path, scenario(), 100).session() as m:
        assert m.domains['vm1']['uuid'] == uuid
        assert m.domains['vm2']['uuid'] is None
    # A state file saved before UUIDs were kept: domains without the key.
    with open(path) as f:
        state = json.load(f)
    for dom in state['model']['domains'].values():
        del dom['uuid']
    with open(path, 'w') as f:
        json.dump(state, f)
    backend = simulated.SimulatedHypervisor(
        None, store=store_mod.FileStore(path, scenario(), 100))
    assert [(d.name, d.uuid) for d in backend.list_domains()] == [
        ('vm1', None), ('vm2', None)]
