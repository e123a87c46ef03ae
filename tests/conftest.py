"""Fixtures shared by unit and functional tests."""

import contextlib
import os
import uuid

import pytest

from oslo_config import cfg
from oslo_config import fixture as config_fixture

from xenballoon_driver import clock as clock_mod
from xenballoon_driver import conf as conf_mod
from xenballoon_driver import driver as driver_mod
from xenballoon_driver import ledger as ledger_mod
from xenballoon_driver.ledger import store as ledger_storage
from xenballoon_driver import persistence
from xenballoon_driver.simulator import backend as simulated
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


def big_host(requests, **balloon):
    """The 2014 report's host: 1 TiB, dom0 960 GiB at 680 MiB/s."""
    return make_scenario(
        host={'total_mb': 1024 * GiB, 'dom0_mb': 960 * GiB},
        balloon=dict({'release_rate_mb_s': 680}, **balloon),
        requests=requests)


class SimHost:
    """A simulated host on a virtual clock, with a driver wired to it."""

    def __init__(self, conf, scenario, persisted=False):
        """A host; its ledger in memory, or in the flows' database.

        Flows are stored in [persistence] connection either way.
        """
        self.scenario = scenario
        self.model = model_mod.HostModel(scenario)
        self.clock = clock_mod.VirtualClock()
        self.backend = simulated.SimulatedHypervisor(
            conf, store=store_mod.MemoryStore(self.model, self.clock))
        ledger = None
        if not persisted:
            ledger = ledger_mod.Ledger(ledger_storage.MemoryStorage(),
                                       conf.xenballoon.dom0_min_memory_mb,
                                       ledger_mod.Policy.from_conf(conf))
        self.driver = driver_mod.XenBalloonDriver(
            conf, self.backend, ledger).init_host()
        self.ledger = self.driver.ledger

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


# -- time and optional libraries -------------------------------------------

class FakeTime:
    """Stands in for the time module inside clock.py: wall time by hand."""

    def __init__(self, start=1.7e9):
        self.wall = start
        self.slept = []

    def time(self):
        return self.wall

    def monotonic(self):
        return self.wall

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.wall += seconds


@pytest.fixture
def wall(monkeypatch):
    """clock.py's wall time, moved by hand: nothing really sleeps."""
    fake = FakeTime()
    monkeypatch.setattr(clock_mod, 'time', fake)
    return fake


def require_libvirt():
    """The libvirt module; skip (or fail if required) when it is missing."""
    try:
        import libvirt
    except ImportError as err:
        reason = ('libvirt-python is not importable (%s); install it with '
                  'pip install "xenballoon-driver[libvirt]" after apt-get '
                  'install libvirt-dev pkg-config' % err)
        if require_services():
            pytest.fail('XENBALLOON_REQUIRE_SERVICES=1 but ' + reason,
                        pytrace=False)
        pytest.skip(reason)
    return libvirt


# -- database servers ------------------------------------------------------

SERVERS = {
    'postgresql': ('postgresql+psycopg2://postgres@127.0.0.1:5432/%s',
                   'postgresql+psycopg2://postgres@127.0.0.1:5432/postgres'),
    'mysql': ('mysql+pymysql://root@127.0.0.1:3306/%s',
              'mysql+pymysql://root@127.0.0.1:3306/mysql'),
}


def require_services():
    return os.environ.get('XENBALLOON_REQUIRE_SERVICES') == '1'


@contextlib.contextmanager
def scratch_database(kind):
    """A new, empty database on the local server of ``kind``; dropped after.

    Skips (or fails, with XENBALLOON_REQUIRE_SERVICES=1) when the server
    or its Python driver is not there.
    """
    import sqlalchemy as sa
    url_fmt, admin_url = SERVERS[kind]
    name = 'xb_test_%s' % uuid.uuid4().hex[:12]
    try:
        admin = sa.create_engine(admin_url, isolation_level='AUTOCOMMIT')
        with admin.connect() as conn:
            conn.execute(sa.text('CREATE DATABASE %s' % name))
    except Exception as err:  # no server, no driver: say which
        reason = '%s server not usable: %s' % (kind,
                                               str(err).splitlines()[0])
        if require_services():
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield url_fmt % name
    finally:
        persistence.forget(url_fmt % name)
        force = ' WITH (FORCE)' if kind == 'postgresql' else ''
        with admin.connect() as conn:
            conn.execute(sa.text('DROP DATABASE %s%s' % (name, force)))
        admin.dispose()


def _database(kind, tmp_path_factory):
    if kind == 'sqlite':
        yield 'sqlite:///%s' % (tmp_path_factory.mktemp('db') /
                                'flows.sqlite')
        return
    with scratch_database(kind) as url:
        yield url


def _emptied(url):
    """Drop every flow and ledger stored at ``url``."""
    import sqlalchemy as sa
    from xenballoon_driver.persistence import documents
    backend = persistence.cached(url)
    if backend is not None:
        with contextlib.closing(backend.get_connection()) as conn:
            conn.clear_all()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        if sa.inspect(conn).has_table(documents.LEDGER.name):
            conn.execute(documents.LEDGER.delete())
    engine.dispose()


# Creating taskflow's schema on a server takes seconds: one database per
# test module, emptied after each test.

@pytest.fixture(scope='module', params=['sqlite', 'postgresql', 'mysql'])
def db_server(request, tmp_path_factory):
    yield from _database(request.param, tmp_path_factory)


@pytest.fixture
def db_url(db_server):
    """Each database kind the project supports, one test run each."""
    yield db_server
    _emptied(db_server)


@pytest.fixture(scope='module', params=['postgresql', 'mysql'])
def server_db(request, tmp_path_factory):
    yield from _database(request.param, tmp_path_factory)


@pytest.fixture
def server_url(server_db):
    """PostgreSQL and MariaDB only (SQLite is everyone's default)."""
    yield server_db
    _emptied(server_db)
