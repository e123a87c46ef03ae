"""host_info() of every backend: CPUs and Xen's version, for Nova."""

import pathlib

import pytest

from tests import conftest
from tests.fake_xl import harness
from tests.unit.hypervisor.test_xl_parse import capture
from tests.unit.hypervisor.test_xl_parse import info_with
from xenballoon_driver import clock as clock_mod
from xenballoon_driver.hypervisor import base
from xenballoon_driver.hypervisor import xl
from xenballoon_driver.hypervisor import xl_parse
from xenballoon_driver.simulator import backend as simulated
from xenballoon_driver.simulator import model as model_mod
from xenballoon_driver.simulator import store as store_mod

NODE_XML = (pathlib.Path(__file__).resolve().parents[2] / 'fixtures' /
            'libvirt' / 'node.xml')


@pytest.mark.parametrize('text,number', [
    ('4.17.7', 4017007), ('4.17', 4017000), ('4.19.0-rc', 4019000),
    ('10.2.33', 10002033)])
def test_version_int(text, number):
    assert base.version_int(text) == number


@pytest.mark.parametrize('text', ['', None, 'xen', '4', 'v4.17'])
def test_version_int_refuses_what_is_not_a_version(text):
    with pytest.raises(ValueError, match='not a version'):
        base.version_int(text)


# -- simulated -------------------------------------------------------------


def simulated_backend(conf, **host):
    model = model_mod.HostModel(conftest.make_scenario(host=host))
    return simulated.SimulatedHypervisor(
        conf, store=store_mod.MemoryStore(model, clock_mod.VirtualClock()))


def test_simulated_reports_the_scenarios_cpus(conf):
    assert simulated_backend(conf).host_info() == base.HostInfo(
        cpus=64, hypervisor_version=4017000, cores_per_socket=64)
    assert simulated_backend(conf, cpus=12).host_info().cpus == 12


def test_simulated_on_the_default_host_file(conf):
    # FileStore: the CPU count comes from the scenario, not the state.
    backend = simulated.SimulatedHypervisor(conf)
    assert backend.host_info().cpus == 64
    assert simulated.SimulatedHypervisor(conf).host_info().cpus == 64


# -- xl --------------------------------------------------------------------


def test_xl_info_capture():
    assert xl_parse.host_info(capture('a001_xl_info')) == base.HostInfo(
        cpus=2, hypervisor_version=4017007, arch='x86_64',
        cores_per_socket=2, threads_per_core=1)


@pytest.mark.parametrize('values,reason', [
    ({'nr_cpus': None}, 'nr_cpus is missing'),
    ({'threads_per_core': None}, 'threads_per_core is missing'),
    ({'nr_cpus': '0'}, 'nr_cpus is 0'),
    ({'nr_cpus': 'two'}, 'nr_cpus is not a whole number'),
    ({'cores_per_socket': '99999'}, 'cores_per_socket is absurd'),
    ({'xen_version': 'unstable'}, "xen_version is not a version: "
                                  "'unstable'"),
    ({'xen_version': None}, 'xen_version is not a version: None'),
])
def test_xl_info_that_makes_no_sense(values, reason):
    with pytest.raises(xl_parse.ParseError, match=reason):
        xl_parse.host_info(info_with(**values))


def test_xl_backend_against_the_fake_xl(conf, tmp_path):
    fake = harness.FakeXl(tmp_path / 'fake')
    fake.configure(conf)
    info = xl.XlHypervisor(conf).host_info()
    assert (info.cpus, info.hypervisor_version) == (2, 4017007)
    assert fake.calls()[-1] == ['info']


# -- libvirt ---------------------------------------------------------------


def test_libvirt_reports_node_info_and_version(conf):
    conftest.require_libvirt()
    from xenballoon_driver.hypervisor import libvirt_backend
    conf.flags(group='libvirt', uri='test://' + str(NODE_XML))
    backend = libvirt_backend.LibvirtHypervisor(conf)
    try:
        info = backend.host_info()
        version = backend.connection.getVersion()
    finally:
        backend.close()
    # node.xml: 1 socket of 8 cores x 2 threads; libvirt's test driver
    # reports its own version number as the hypervisor's.
    assert info == base.HostInfo(cpus=16, hypervisor_version=version,
                                 arch='x86_64', cores_per_socket=8,
                                 threads_per_core=2)
