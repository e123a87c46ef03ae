"""Fixtures shared by unit and functional tests."""

import pytest

from oslo_config import cfg
from oslo_config import fixture as config_fixture

from xenballoon_driver.balloon import ledger as ledger_mod
from xenballoon_driver.balloon import ledger_storage
from xenballoon_driver import clock as clock_mod
from xenballoon_driver import conf as conf_mod
from xenballoon_driver import driver as driver_mod
from xenballoon_driver.hypervisor import simulated
from xenballoon_driver.simulator import model as model_mod
from xenballoon_driver.simulator import scenario as scenario_mod
from xenballoon_driver.simulator import store as store_mod

GiB = 1024


@pytest.fixture
def conf(tmp_path):
    """A private ConfigOpts; ``conf.flags(group=..., **kw)`` sets options."""
    opts = cfg.ConfigOpts()
    conf_mod.register_opts(opts)
    opts([], default_config_files=[])
    fixture = config_fixture.Config(opts)
    fixture.setUp()
    fixture.config(group='xenballoon', state_dir=str(tmp_path / 'state'))

    def flags(group, **kw):
        fixture.config(group=group, **kw)
    opts.flags = flags
    yield opts
    fixture.cleanUp()


def make_scenario(host=None, balloon=None, build=None, requests=None):
    """A small scenario: 64 GiB host, dom0 56 GiB, 1 GiB/s balloon."""
    data = {
        'name': 'test',
        'host': {'total_mb': 64 * GiB, 'dom0_mb': 56 * GiB,
                 'dom0_low_mb': 1024, 'xen_mb': 0},
        'balloon': {'release_rate_mb_s': 1024, 'reinflate_rate_mb_s': 2048},
        'build': {'populate_rate_mb_s': 8192},
        'requests': requests or [],
    }
    data['host'].update(host or {})
    data['balloon'].update(balloon or {})
    data['build'].update(build or {})
    return scenario_mod.from_dict(data)


class SimHost:
    """A simulated host on a virtual clock, with a driver wired to it."""

    def __init__(self, conf, scenario):
        self.scenario = scenario
        self.model = model_mod.HostModel(scenario)
        self.clock = clock_mod.VirtualClock()
        self.backend = simulated.SimulatedHypervisor(
            conf, store=store_mod.MemoryStore(self.model, self.clock))
        self.ledger = ledger_mod.Ledger(ledger_storage.MemoryStorage(),
                                        conf.xenballoon.dom0_min_memory_mb)
        self.driver = driver_mod.XenBalloonDriver(
            conf, self.backend, self.ledger).init_host()

    def settle(self, seconds=3600.0):
        """Let the balloon reach its target (or give up after seconds)."""
        end = self.clock.now() + seconds
        while self.clock.now() < end:
            self.model.advance(self.clock.now())
            if abs(self.model.dom0_mb - self.model.dom0_target_mb) < 1e-3:
                break
            if (self.model.dom0_mb > self.model.dom0_target_mb and
                    not self.model.balloon_can_release()):
                break
            self.clock.sleep(1.0)
        self.model.advance(self.clock.now())

    def dom0(self):
        return self.backend.dom0_memory()


@pytest.fixture
def sim(conf):
    """Factory: ``sim(host=..., balloon=..., build=...)`` -> SimHost."""
    def factory(**kw):
        return SimHost(conf, make_scenario(**kw))
    return factory
