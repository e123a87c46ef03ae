"""Fixtures for the Nova adapter's tests (``tox -e nova``).

Nova is imported inside the fixtures: without it, each test module skips
at its importorskip and nothing here runs.
"""

import os
import sys

import pytest

from tests import conftest as base
from xenballoon_driver import clock as clock_mod
from xenballoon_driver import persistence
from xenballoon_driver.simulator import backend as simulated
from xenballoon_driver.simulator import model as model_mod
from xenballoon_driver.simulator import store as store_mod

# Native threads, as nova-compute, nova-scheduler and nova-conductor run
# in Nova 34 (nova/cmd/compute.py: monkey_patch.patch(backend='threading')
# first of all). Nova's functional package would otherwise monkey patch
# eventlet at import, under every other test in the process (placement
# served in a thread by test_compute_manager.py hangs then).
os.environ.setdefault('OS_NOVA_DISABLE_EVENTLET_PATCHING', '1')
try:
    from nova import monkey_patch
except ImportError:  # no Nova: every test module here skips
    monkey_patch = None
if monkey_patch is not None and not monkey_patch.is_patched():
    # tests/conftest.py came first and imported taskflow, which imports
    # eventlet if it can (oslo_utils.eventletutils) without patching
    # anything. Nova refuses threading mode once eventlet is imported;
    # nova-compute itself decides before any import. Forget the unused
    # import so Nova can decide here as it does there.
    import eventlet.patcher
    assert not eventlet.patcher.is_monkey_patched('thread')
    for name in [n for n in sys.modules
                 if n == 'eventlet' or n.startswith('eventlet.')]:
        del sys.modules[name]
    monkey_patch.patch(backend='threading')

NODE = 'compute1'


@pytest.fixture
def nova_conf(tmp_path):
    """Nova's global CONF (ours are registered on it), overridden per test."""
    from oslo_config import fixture as config_fixture

    import nova.conf
    from nova import objects

    objects.register_all()
    conf = nova.conf.CONF
    conf([], project='nova', default_config_files=[])
    fixture = config_fixture.Config(conf)
    fixture.setUp()
    fixture.config(host=NODE, state_path=str(tmp_path / 'nova'),
                   instances_path=str(tmp_path / 'instances'),
                   compute_driver='xenballoon.XenBalloonComputeDriver')
    fixture.config(group='xenballoon', state_dir=str(tmp_path / 'state'))
    yield conf
    persistence.forget(persistence.connection_url(conf))
    fixture.cleanUp()


class Compute:
    """A simulated host on a virtual clock, driven through Nova's driver."""

    def __init__(self, conf, scenario):
        from nova.virt import driver as nova_driver
        from nova.virt import fake

        self.model = model_mod.HostModel(scenario)
        self.clock = clock_mod.VirtualClock()
        self.backend = simulated.SimulatedHypervisor(
            conf, store=store_mod.MemoryStore(self.model, self.clock))
        # Nova's own loading path: nova.virt.<[DEFAULT] compute_driver>.
        self.driver = nova_driver.load_compute_driver(fake.FakeVirtAPI())
        # Our driver loads its backend at init_host unless it has one.
        self.driver.driver.backend = self.backend
        self.driver.init_host(NODE)
        self.ledger = self.driver.driver.ledger

    def dom0(self):
        return self.backend.dom0_memory()


@pytest.fixture
def compute(nova_conf):
    """Factory: ``compute(host=..., balloon=..., build=...)`` -> Compute."""
    def factory(**kw):
        return Compute(nova_conf, base.make_scenario(**kw))
    return factory
