"""Fixtures for the Nova adapter's tests (``tox -e nova``).

Nova is imported inside the fixtures: without it, each test module skips
at its importorskip and nothing here runs.
"""

import pytest

from tests import conftest as base
from xenballoon_driver import clock as clock_mod
from xenballoon_driver import persistence
from xenballoon_driver.simulator import backend as simulated
from xenballoon_driver.simulator import model as model_mod
from xenballoon_driver.simulator import store as store_mod

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
