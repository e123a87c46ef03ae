"""Spawn scenarios through the driver with [hypervisor] driver = libvirt.

The driver is loaded as an operator would load it
(``XenBalloonDriver(conf).init_host()``, the backend found by stevedore)
and talks to a real libvirt: libvirt-python and libvirt's "test" hypervisor
driver. Nothing is mocked. The tests skip when libvirt-python cannot be
imported, unless XENBALLOON_REQUIRE_SERVICES=1, in which case they fail.

What libvirt's test driver models (libvirt 9.0, src/test/test_driver.c),
and so what these tests can show:

- A node from an XML file (tests/fixtures/libvirt/node.xml): total memory,
  domains with their maximum and current memory, define / create /
  destroy / undefine, name clashes refused with libvirt's own messages.
- ``virDomainSetMemoryFlags(LIVE)`` on dom0 is applied at once: dom0's
  current memory and the target libvirt reports (<currentMemory>) are one
  number in the test driver and change together, immediately. A target
  above dom0's maximum is refused.

What it does not model, and so what these tests cannot show:

- Ballooning. There is no balloon driver: dom0 never takes time to shrink,
  never shrinks part-way, never stalls half-way, never grows back. The
  driver's progress tracking (rate, ETA, "keeps waiting while dom0 keeps
  moving", invariant 2) is not exercised against libvirt here.
- Free memory. A node read from a file has no NUMA cells, so
  ``virNodeGetFreeMemory`` is always 0: it does not grow when dom0 shrinks
  nor drop when a guest starts. (test:///default has two cells whose
  free memory is a constant 3145728 "bytes", a KiB figure returned as
  bytes: 3 MiB.) So on a node file every spawn that needs memory, which is
  every spawn, balloons dom0 and then stalls: the wait for free memory
  can never end. A spawn that balloons and then builds cannot be shown.
- Memory accounting for guests: a guest of any size starts, even larger
  than the node, so libvirt's "out of memory" refusals (libxl's "Failed
  to balloon domain0 memory") cannot be provoked; OutOfMemory mapping is
  checked on message text only (unit tests).
- A failing virDomainCreate: the test driver only fails a create for a
  domain already running, which our backend never asks for. The clean-up
  after a define that succeeded and a create that failed is not run.
- Domain ids: ids in the node XML are ignored and numbering starts at 1,
  so dom0 is not ID 0 here; the backend finds it by [libvirt] dom0_name.

The scenarios, adapted to that:

- A spawn that needs ballooning (node file): the driver lowers dom0's
  target through libvirt by exactly the memory missing, libvirt applies
  it, free memory stays 0, the wait stalls and the revert gives dom0 its
  memory back, through libvirt again.
- A request refused before dom0 is touched (node file).
- A stall (node file): the error, its numbers, and not before
  stall_timeout.
- A build that runs, and a build refused by libvirt and reverted
  (test:///default, whose 3 MiB of constant free memory let a 1 MiB guest
  skip the balloon): the refusal is libvirt's own, a name clash with a
  domain another libvirt client defined after the driver had reserved
  the memory.
"""

import pathlib
import time
from xml.etree import ElementTree

import pytest

from tests import conftest
from xenballoon_driver import driver as driver_mod
from xenballoon_driver import exception
from xenballoon_driver.flows import spawn as spawn_flow
from xenballoon_driver.hypervisor import libvirt_backend

NODE_XML = (pathlib.Path(__file__).resolve().parents[1] / 'fixtures' /
            'libvirt' / 'node.xml')
NODE_URI = 'test://' + str(NODE_XML)
KiB = 1024
HOST_MB = 64 * 1024
DOM0_MB = 62 * 1024
FLOOR_MB = 4096
STALL_TIMEOUT_S = 0.2


def pv_footprint(memory_mb):
    return memory_mb + 2


@pytest.fixture
def libvirt():
    return conftest.require_libvirt()


@pytest.fixture
def make_driver(conf, libvirt):
    """Factory: a driver on a libvirt test-driver host, closed afterwards."""
    made = []

    def factory(uri=NODE_URI, dom0_name='Domain-0', floor_mb=FLOOR_MB):
        conf.flags(group='hypervisor', driver='libvirt')
        conf.flags(group='libvirt', uri=uri, dom0_name=dom0_name)
        conf.flags(group='xenballoon', dom0_min_memory_mb=floor_mb,
                   stall_timeout=STALL_TIMEOUT_S, poll_interval=0.05,
                   # libvirt cannot show dom0's balloon: stall_timeout
                   # alone, not the 35 s wait for pauses it cannot see.
                   blind_stall_timeout=0.0,
                   min_poll_interval=0.01, min_progress_mb_s=1.0)
        driver = driver_mod.XenBalloonDriver(conf).init_host()
        made.append(driver)
        return driver
    yield factory
    for driver in made:
        driver.backend.close()


class WaitRecorder:
    """A progress callback noting what libvirt shows during the wait."""

    def __init__(self, backend, dom0_name='Domain-0', on_first=None):
        self.backend = backend
        self.dom0_name = dom0_name
        self.on_first = on_first
        self.seen = []

    def __call__(self, task_name, details):
        if task_name != spawn_flow.WAIT or 'dom0_mb' not in details:
            return
        dom = self.backend.connection.lookupByName(self.dom0_name)
        self.seen.append({
            'watched_dom0_mb': details['dom0_mb'],
            'libvirt_dom0_kib': dom.info()[2],
            'libvirt_target_kib': int(ElementTree.fromstring(
                dom.XMLDesc(0)).find('currentMemory').text),
            'free_mb': self.backend.host_memory().free_mb,
        })
        if self.on_first is not None and len(self.seen) == 1:
            self.on_first()


def libvirt_dom0_kib(backend, name='Domain-0'):
    return backend.connection.lookupByName(name).info()[2]


def libvirt_names(backend):
    return sorted(d.name() for d in backend.connection.listAllDomains(0))


def assert_host_as_it_was(driver, dom0_mb=DOM0_MB, names=('Domain-0',)):
    assert driver.backend.dom0_memory().target_mb == dom0_mb
    assert driver.backend.dom0_memory().current_mb == dom0_mb
    assert libvirt_names(driver.backend) == sorted(names)
    assert driver.ledger.entries() == {}


# -- on the node file ---------------------------------------------------------


def test_driver_loads_the_libvirt_backend(make_driver):
    driver = make_driver()
    assert isinstance(driver.backend, libvirt_backend.LibvirtHypervisor)
    status = driver.host_status()
    assert status['total_mb'] == HOST_MB
    assert status['free_mb'] == 0
    assert status['dom0_current_mb'] == DOM0_MB
    assert status['available_mb'] == DOM0_MB - FLOOR_MB
    assert driver.list_instances() == []


def test_spawn_that_needs_ballooning_lowers_dom0_through_libvirt(
        make_driver):
    driver = make_driver()
    need = pv_footprint(8192)
    record = WaitRecorder(driver.backend)
    with pytest.raises(exception.BalloonStalled):
        driver.spawn('g1', 8192, progress=record)

    # While the driver waited, libvirt held dom0 at exactly the target
    # the ledger derives: everything the guest needs, since none is free.
    target_kib = (DOM0_MB - need) * KiB
    assert record.seen, 'the driver never waited for the balloon'
    for seen in record.seen:
        assert seen == {'watched_dom0_mb': DOM0_MB - need,
                        'libvirt_dom0_kib': target_kib,
                        'libvirt_target_kib': target_kib,
                        'free_mb': 0}
    # The test driver's free memory never grew, so the wait stalled and
    # the revert gave dom0 its memory back through libvirt.
    assert libvirt_dom0_kib(driver.backend) == DOM0_MB * KiB
    assert_host_as_it_was(driver)
    assert driver.host_status()['available_mb'] == DOM0_MB - FLOOR_MB


def test_request_that_cannot_fit_is_refused_before_dom0_is_touched(
        make_driver, libvirt):
    driver = make_driver()
    # Put dom0 at a size no target of ours can have (not whole MiB): any
    # set, even one undone later, would leave a whole number of MiB.
    odd_kib = DOM0_MB * KiB - 512
    driver.backend.connection.lookupByName('Domain-0').setMemoryFlags(
        odd_kib, libvirt.VIR_DOMAIN_AFFECT_LIVE)
    balloonable = DOM0_MB - FLOOR_MB
    record = WaitRecorder(driver.backend)
    with pytest.raises(exception.NotEnoughMemory) as err:
        driver.spawn('big', balloonable, progress=record)
    assert (err.value.need_mb, err.value.available_mb, err.value.free_mb,
            err.value.balloonable_mb) == (pv_footprint(balloonable),
                                          balloonable, 0, balloonable)
    assert record.seen == []
    assert libvirt_dom0_kib(driver.backend) == odd_kib
    assert libvirt_names(driver.backend) == ['Domain-0']
    assert driver.ledger.entries() == {}


def test_stall_fails_after_stall_timeout_and_reinflates(make_driver):
    driver = make_driver()
    need = pv_footprint(4096)
    started = time.monotonic()
    with pytest.raises(exception.BalloonStalled) as err:
        driver.spawn('g2', 4096)
    waited = time.monotonic() - started
    # dom0 reached its target at once; the memory never showed up free.
    assert (err.value.current_mb, err.value.target_mb,
            err.value.missing_mb) == (DOM0_MB - need, DOM0_MB - need, need)
    assert err.value.message.startswith(
        'Balloon stalled: dom0 is at %d MiB, target %d MiB, %d MiB still '
        'missing after %.1f s' % (DOM0_MB - need, DOM0_MB - need, need,
                                  STALL_TIMEOUT_S))
    assert waited >= STALL_TIMEOUT_S
    assert_host_as_it_was(driver)


def test_spawn_down_to_dom0s_floor_stops_at_the_floor(make_driver):
    driver = make_driver()
    memory = DOM0_MB - FLOOR_MB - 2
    record = WaitRecorder(driver.backend)
    with pytest.raises(exception.BalloonStalled):
        driver.spawn('g3', memory, progress=record)
    assert {s['libvirt_target_kib'] for s in record.seen} == {
        FLOOR_MB * KiB}
    assert_host_as_it_was(driver)


# -- on test:///default: 3 MiB free, so a 1 MiB guest needs no balloon --------


@pytest.fixture
def default_driver(make_driver):
    # test:///default's only domain, "test" (2 GiB), plays dom0.
    driver = make_driver(uri='test:///default', dom0_name='test',
                         floor_mb=1024)
    if driver.backend.host_memory().free_mb < pv_footprint(1):
        pytest.skip('test:///default reports less than %d MiB free' %
                    pv_footprint(1))
    return driver


def test_build_runs_and_destroy_removes_it(default_driver):
    driver = default_driver
    dom0_before = driver.backend.dom0_memory()
    info = driver.spawn('lvok', 1)
    assert (info.name, info.memory_mb, info.state) == ('lvok', 1, 'running')
    dom = driver.backend.connection.lookupByName('lvok')
    assert dom.isActive() == 1 and dom.info()[2] == 1 * KiB
    assert driver.list_instances() == ['lvok']
    assert driver.backend.dom0_memory() == dom0_before
    assert [e['name'] for e in driver.ledger.entries().values()] == ['lvok']

    assert driver.destroy('lvok') == dom0_before.target_mb
    assert libvirt_names(driver.backend) == ['test']
    assert driver.ledger.entries() == {}


def test_build_refused_by_libvirt_is_reverted(default_driver, libvirt):
    driver = default_driver
    dom0_before = driver.backend.dom0_memory()
    other = libvirt.open('test:///default')   # another libvirt client
    try:
        def someone_else_takes_the_name():
            other.defineXML(
                "<domain type='xen'><name>lvrace</name><memory unit='MiB'>"
                "64</memory><os><type>xen</type></os></domain>")
        record = WaitRecorder(driver.backend, dom0_name='test',
                              on_first=someone_else_takes_the_name)
        with pytest.raises(exception.DomainExists) as err:
            driver.spawn('lvrace', 1, progress=record)
        assert "domain 'lvrace' already exists with uuid" in err.value.message
        # The other client's domain is untouched: still defined, still
        # shut off, still its own size.
        theirs = driver.backend.connection.lookupByName('lvrace')
        assert theirs.isActive() == 0
        assert theirs.maxMemory() == 64 * KiB
        assert driver.backend.dom0_memory() == dom0_before
        assert libvirt_names(driver.backend) == ['lvrace', 'test']
        assert driver.ledger.entries() == {}
        other.lookupByName('lvrace').undefine()
    finally:
        other.close()
