"""The libvirt backend's contract, against libvirt's own test driver.

Every test talks to a real libvirt (libvirt-python and libvirt's "test"
hypervisor driver, test:///<node.xml>), not to a mock. Each connection to
a node file has its own private state, so each test starts from the node
in tests/fixtures/libvirt/node.xml: 64 GiB, dom0 holding 62 GiB.

The tests skip when libvirt-python cannot be imported, unless
XENBALLOON_REQUIRE_SERVICES=1, in which case they fail.

What the test driver cannot show (see the functional tests too): it keeps
no memory accounting, so node free memory is always 0 and never follows
dom0, no create ever fails for lack of memory (the OutOfMemory mapping is
only checked on libvirt's message text), and no create fails once its
define succeeded (the clean-up after a failed virDomainCreate is not run
here).
"""

import os
import pathlib
import subprocess
import sys
from xml.etree import ElementTree

import pytest

from tests import conftest
from xenballoon_driver import clock as clock_mod
from xenballoon_driver import exception
from xenballoon_driver import hypervisor
from xenballoon_driver.hypervisor import base
from xenballoon_driver.hypervisor import libvirt_backend
from xenballoon_driver.hypervisor import libvirt_conn
from xenballoon_driver.hypervisor import libvirt_xml as xml_mod

NODE_XML = (pathlib.Path(__file__).resolve().parents[2] / 'fixtures' /
            'libvirt' / 'node.xml')
NODE_URI = 'test://' + str(NODE_XML)
KiB = 1024
DOM0_MB = 62 * 1024
HOST_MB = 64 * 1024


@pytest.fixture
def libvirt():
    return conftest.require_libvirt()


@pytest.fixture
def make_backend(conf, libvirt):
    """Factory: a backend on a fresh test-driver node, closed afterwards."""
    made = []

    def factory(**options):
        conf.flags(group='libvirt', **dict({'uri': NODE_URI}, **options))
        backend = libvirt_backend.LibvirtHypervisor(conf)
        made.append(backend)
        return backend
    yield factory
    for backend in made:
        backend.close()


@pytest.fixture
def backend(make_backend):
    return make_backend()


def libvirt_dom0(backend):
    """dom0 as libvirt itself reports it: (info memory KiB, XML)."""
    dom = backend.connection.lookupByName('Domain-0')
    return dom.info()[2], dom.XMLDesc(0)


def libvirt_names(backend):
    return sorted(d.name() for d in backend.connection.listAllDomains(0))


# -- loading ------------------------------------------------------------------


def test_loaded_by_name_with_stevedore(conf, libvirt):
    conf.flags(group='hypervisor', driver='libvirt')
    conf.flags(group='libvirt', uri=NODE_URI)
    backend = hypervisor.load(conf)
    try:
        assert isinstance(backend, libvirt_backend.LibvirtHypervisor)
        assert isinstance(backend.clock, clock_mod.RealClock)
        assert 'libvirt' in hypervisor.available()
        assert backend.host_memory().total_mb == HOST_MB
    finally:
        backend.close()


def test_missing_libvirt_python_gives_an_install_hint(tmp_path):
    # A fresh interpreter in which "import libvirt" fails, as it does
    # where the extra is not installed. Runs with or without libvirt.
    code = (
        'import sys\n'
        'sys.modules["libvirt"] = None\n'
        'from oslo_config import cfg\n'
        'from xenballoon_driver import conf, exception, hypervisor\n'
        'opts = cfg.ConfigOpts()\n'
        'conf.register_opts(opts)\n'
        'opts([], default_config_files=[])\n'
        'opts.set_override("driver", "libvirt", group="hypervisor")\n'
        'try:\n'
        '    hypervisor.load(opts)\n'
        'except exception.ToolstackError as err:\n'
        '    print(type(err).__name__, err)\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, timeout=60, cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith('ToolstackError Toolstack call import '
                                 'libvirt failed: libvirt-python is not '
                                 'installed')
    assert 'pip install "xenballoon-driver[libvirt]"' in out.stdout
    assert 'libvirt-dev pkg-config' in out.stdout


def test_unreadable_node_is_a_toolstack_error_with_libvirts_message(
        make_backend, tmp_path):
    missing = tmp_path / 'no-such-node.xml'
    with pytest.raises(exception.ToolstackError) as err:
        make_backend(uri='test://%s' % missing)
    assert err.value.call == 'virConnectOpen(test://%s)' % missing
    assert 'failed to parse xml document' in err.value.message
    assert str(missing) in err.value.message


def test_no_dom0_is_a_toolstack_error(make_backend):
    with pytest.raises(exception.ToolstackError) as err:
        make_backend(dom0_name='NoSuchDom0')
    assert ("has no domain with ID 0 and none named 'NoSuchDom0'" in
            err.value.message)
    assert 'Domain not found' in err.value.message


@pytest.mark.parametrize('option', ['guest_kernel', 'guest_ramdisk'])
@pytest.mark.parametrize('path', ['boot/vmlinuz', '/boot/../vmlinuz',
                                  '/boot//vmlinuz', '/boot/vm\nlinuz'])
def test_bad_boot_paths_are_refused_at_start_up(make_backend, option, path):
    with pytest.raises(exception.InvalidConfig) as err:
        make_backend(**{option: path})
    assert '[libvirt] %s' % option in err.value.message


# -- memory figures -----------------------------------------------------------


def test_host_memory_in_mib(backend):
    assert backend.host_memory() == base.HostMemory(
        total_mb=HOST_MB, free_mb=0, claimed_mb=0)


def test_dom0_current_and_target(backend):
    assert backend.dom0_memory() == base.Dom0Memory(
        current_mb=DOM0_MB, target_mb=DOM0_MB)


def test_dom0_is_found_by_name_when_no_domain_has_id_0(backend, libvirt):
    # The test driver numbers domains from 1: our dom0 is ID 1 there.
    assert backend.connection.lookupByName('Domain-0').ID() == 1
    with pytest.raises(libvirt.libvirtError):
        backend.connection.lookupByID(0)
    assert backend.dom0_memory().current_mb == DOM0_MB
    assert backend.list_domains() == []


def test_set_dom0_target_through_libvirt(backend):
    backend.set_dom0_target(DOM0_MB - 8192)
    assert backend.dom0_memory() == base.Dom0Memory(
        current_mb=DOM0_MB - 8192, target_mb=DOM0_MB - 8192)
    memory_kib, xml_text = libvirt_dom0(backend)
    assert memory_kib == (DOM0_MB - 8192) * KiB
    assert ("<currentMemory unit='KiB'>%d</currentMemory>" %
            ((DOM0_MB - 8192) * KiB)) in xml_text


def test_test_driver_free_memory_does_not_follow_dom0(backend):
    # The premise of the functional tests: the test driver has no memory
    # accounting. If this starts failing, libvirt models free memory now
    # and the functional tests can show a real balloon.
    backend.set_dom0_target(4096)
    assert backend.dom0_memory().current_mb == 4096
    assert backend.host_memory().free_mb == 0


def test_dom0_fractions_round_up_to_whole_mib(backend, libvirt):
    dom = backend.connection.lookupByName('Domain-0')
    dom.setMemoryFlags(4096 * KiB + 1, libvirt.VIR_DOMAIN_AFFECT_LIVE)
    assert backend.dom0_memory() == base.Dom0Memory(current_mb=4097,
                                                    target_mb=4097)


def test_set_dom0_target_above_its_maximum_is_libvirts_error(backend):
    with pytest.raises(exception.ToolstackError) as err:
        backend.set_dom0_target(DOM0_MB + 1)
    assert 'cannot set memory higher than max memory' in err.value.message
    assert 'virDomainSetMemoryFlags' in err.value.message
    assert backend.dom0_memory().target_mb == DOM0_MB


@pytest.mark.parametrize('target', [127, 0, -1, 4096.0, '4096', True,
                                    16 * 1024 * 1024 + 1])
def test_bad_dom0_targets_never_reach_libvirt(backend, target):
    before = libvirt_dom0(backend)
    with pytest.raises(exception.ToolstackError):
        backend.set_dom0_target(target)
    assert libvirt_dom0(backend) == before


# -- domains ------------------------------------------------------------------


def test_create_list_destroy(backend, libvirt):
    info = backend.create_domain(base.DomainSpec('g1', 1024, vcpus=2))
    # Without an instance UUID, libvirt makes one.
    made = backend.connection.lookupByName('g1').UUIDString()
    assert info == base.DomainInfo(name='g1', domid=info.domid,
                                   memory_mb=1024, vcpus=2, state='running',
                                   uuid=made)
    assert info.domid >= 2
    assert backend.list_domains() == [info]
    assert backend.domain_info('g1') == info
    dom = backend.connection.lookupByName('g1')
    # Transient, as xl's domains are: gone once it stops.
    assert dom.isActive() == 1 and dom.isPersistent() == 0
    assert dom.info()[1:4] == [1024 * KiB, 1024 * KiB, 2]

    backend.destroy_domain('g1')
    assert backend.list_domains() == []
    assert libvirt_names(backend) == ['Domain-0']
    with pytest.raises(exception.DomainNotFound):
        backend.domain_info('g1')


UUID = '1b4e28ba-2fa1-11d2-883f-0016d3cca427'


def test_domain_keeps_the_instance_uuid(backend):
    info = backend.create_domain(base.DomainSpec('g1', 1024, uuid=UUID))
    assert info.uuid == UUID
    assert backend.connection.lookupByName('g1').UUIDString() == UUID
    assert [d.uuid for d in backend.list_domains()] == [UUID]


@pytest.mark.parametrize('value', ['g1', UUID + '</uuid>', 7])
def test_bad_uuids_never_reach_libvirt(backend, value):
    with pytest.raises(exception.InvalidInput, match='instance UUID'):
        backend.create_domain(base.DomainSpec('g1', 1024, uuid=value))
    assert libvirt_names(backend) == ['Domain-0']


def libvirt_xml(backend, name):
    return ElementTree.fromstring(
        backend.connection.lookupByName(name).XMLDesc(0))


# libvirt writes Xen PV's os type "xen" back as "linux", its old name
# (domain_conf.c: "HACK: For xen driver we previously used bogus 'linux'").
@pytest.mark.parametrize('guest_type,os_type', [('pv', 'linux'),
                                                ('pvh', 'xenpvh'),
                                                ('hvm', 'hvm')])
def test_guest_types_become_libvirt_os_types(backend, guest_type, os_type):
    backend.create_domain(base.DomainSpec('g1', 256, guest_type=guest_type))
    root = libvirt_xml(backend, 'g1')
    assert root.get('type') == 'xen'
    assert root.find('os/type').text == os_type


def test_boot_paths_reach_libvirt_escaped_and_unchanged(make_backend):
    kernel = '/boot/vmlinuz&<x>"\'\u00fc</os>'
    backend = make_backend(guest_kernel=kernel,
                           guest_ramdisk='/boot/initrd.img')
    backend.create_domain(base.DomainSpec('g1', 256))
    root = libvirt_xml(backend, 'g1')
    assert root.find('os/kernel').text == kernel
    assert root.find('os/initrd').text == '/boot/initrd.img'
    assert [e.tag for e in root.find('os')] == ['type', 'kernel', 'initrd']


def test_duplicate_name_is_refused_and_the_first_domain_kept(backend):
    first = backend.create_domain(base.DomainSpec('g1', 1024))
    with pytest.raises(exception.DomainExists) as err:
        backend.create_domain(base.DomainSpec('g1', 2048))
    assert "domain 'g1' already exists" in err.value.message
    assert backend.list_domains() == [first]
    assert libvirt_names(backend) == ['Domain-0', 'g1']


def test_dom0s_name_is_refused_and_dom0_untouched(backend):
    before = libvirt_dom0(backend)
    # Refused by our name rule before libvirt is asked.
    with pytest.raises(exception.InvalidInput) as err:
        backend.create_domain(base.DomainSpec('Domain-0', 1024))
    assert "'Domain-0': reserved for dom0" in err.value.message
    assert libvirt_dom0(backend) == before
    assert libvirt_names(backend) == ['Domain-0']


@pytest.mark.parametrize('name', ['', '1abc', 'a b', "x'/><name>y",
                                  '../etc', 'a"b', 'g;rm', 'x' * 65])
def test_invalid_names_never_reach_libvirt(backend, name):
    with pytest.raises(exception.InvalidInput):
        backend.create_domain(base.DomainSpec(name, 256))
    with pytest.raises(exception.InvalidInput):
        backend.destroy_domain(name)
    assert libvirt_names(backend) == ['Domain-0']


def test_destroy_of_unknown_is_domain_not_found(backend):
    with pytest.raises(exception.DomainNotFound) as err:
        backend.destroy_domain('nosuch')
    assert err.value.name == 'nosuch'
    assert 'libvirt: Domain not found' in err.value.message


def test_dom0_is_never_destroyed(backend):
    with pytest.raises(exception.InvalidInput) as err:
        backend.destroy_domain('Domain-0')
    assert 'dom0' in err.value.message
    assert backend.connection.lookupByName('Domain-0').isActive() == 1


def test_defined_but_shut_off_domain_is_listed_and_removed(backend):
    # Defined by another libvirt user, never started.
    backend.connection.defineXML(
        "<domain type='xen'><name>other</name><memory unit='MiB'>512"
        "</memory><os><type>xen</type></os></domain>")
    made = backend.connection.lookupByName('other').UUIDString()
    assert backend.list_domains() == [base.DomainInfo(
        name='other', domid=-1, memory_mb=0, vcpus=1, state='shutoff',
        uuid=made)]
    backend.destroy_domain('other')
    assert libvirt_names(backend) == ['Domain-0']


def test_transient_domain_is_destroyed(backend):
    backend.connection.createXML(
        "<domain type='xen'><name>temp</name><memory unit='MiB'>512"
        "</memory><os><type>xen</type></os></domain>", 0)
    assert [d.name for d in backend.list_domains()] == ['temp']
    backend.destroy_domain('temp')
    assert libvirt_names(backend) == ['Domain-0']


def test_a_closed_connection_is_reopened(backend):
    # A connection to a node file is private: reopening starts afresh.
    backend.set_dom0_target(8192)
    backend.connection.close()
    assert backend.dom0_memory().current_mb == DOM0_MB


# -- error mapping ------------------------------------------------------------


@pytest.mark.parametrize('code,message,kind', [
    ('VIR_ERR_NO_DOMAIN', 'Domain not found', 'not_found'),
    ('VIR_ERR_OPERATION_FAILED', "operation failed: domain 'g1' already "
     "exists with uuid 1bde1cfa-2fe7-45f1-9b32-8bfda804e3df", 'exists'),
    ('VIR_ERR_OPERATION_INVALID', "Requested operation is not valid: "
     "domain 'g1' is already active", 'exists'),
    ('VIR_ERR_DOM_EXIST', 'this domain exists already', 'exists'),
    # libvirt's libxl driver when its own autoballoon gives up.
    ('VIR_ERR_OPERATION_FAILED', 'operation failed: Failed to balloon '
     'domain0 memory', 'out_of_memory'),
    ('VIR_ERR_NO_MEMORY', 'out of memory', 'out_of_memory'),
    ('VIR_ERR_NO_CONNECT', 'no connection driver available',
     'connection'),
    ('VIR_ERR_SYSTEM_ERROR', "Failed to connect socket to "
     "'/var/run/libvirt/libvirt-sock'", 'connection'),
    ('VIR_ERR_INTERNAL_ERROR', "internal error: libxenlight failed to "
     "create new domain 'g1'", 'other'),
    ('VIR_ERR_INVALID_ARG', 'invalid argument: cannot set memory higher '
     'than max memory', 'other'),
])
def test_libvirt_errors_are_sorted(libvirt, code, message, kind):
    # Only the message text here: the test driver never runs short of
    # memory and never loses its connection.
    assert libvirt_conn.error_kind(getattr(libvirt, code),
                                   message) == kind


# -- pure helpers -------------------------------------------------------------


def test_domain_xml_is_built_from_checked_values():
    xml_text = xml_mod.domain_xml(
        base.DomainSpec('g1', 1024, vcpus=4, guest_type='hvm'))
    assert xml_text == (
        '<domain type="xen"><name>g1</name>'
        '<memory unit="KiB">1048576</memory>'
        '<currentMemory unit="KiB">1048576</currentMemory>'
        '<vcpu>4</vcpu><os><type>hvm</type></os></domain>')
    with pytest.raises(exception.InvalidInput):
        xml_mod.domain_xml(base.DomainSpec('g1', 1024, guest_type='kvm'))
    with pytest.raises(exception.InvalidInput):
        xml_mod.domain_xml(base.DomainSpec('g1', 0))
    with pytest.raises(exception.InvalidInput):
        xml_mod.domain_xml(base.DomainSpec('g1', 1024, vcpus=513))
    assert '<name>g1</name><uuid>%s</uuid>' % UUID in xml_mod.domain_xml(
        base.DomainSpec('g1', 1024, uuid=UUID))


@pytest.mark.parametrize('xml_text', [
    '<domain>', '<domain/>', "<domain><currentMemory unit='MiB'>4"
    "</currentMemory></domain>", '<domain><currentMemory>x</currentMemory>'
    '</domain>'])
def test_unreadable_dom0_xml_is_refused(xml_text):
    with pytest.raises(ValueError):
        xml_mod.current_memory_kib(xml_text)


# -- the guest lifecycle ------------------------------------------------------
# The test driver shuts a domain off at once on virDomainShutdown (no
# guest to ask), pauses and resumes, and saves to / restores from a file
# of its own format; it keeps no console log. What it cannot show: a
# guest that takes its time or ignores the request, and memory running
# short on restore.

DISK = {'path': '/var/lib/nova/instances/u1/disk', 'vdev': 'xvda'}
VIF = {'mac': 'fa:16:3e:00:00:01', 'bridge': 'br100'}


def lspec(name='g1', memory_mb=1024, **kw):
    return base.DomainSpec(name=name, memory_mb=memory_mb, **kw)


def test_a_guest_that_shut_down_is_gone(backend):
    backend.create_domain(lspec())
    backend.shutdown_domain('g1')
    with pytest.raises(exception.DomainNotFound):
        backend.domain_info('g1')
    assert libvirt_names(backend) == ['Domain-0']


def test_pause_and_unpause(backend):
    backend.create_domain(lspec())
    backend.pause_domain('g1')
    info = backend.domain_info('g1')
    assert (info.state, info.memory_mb) == ('paused', 1024)
    backend.unpause_domain('g1')
    assert backend.domain_info('g1').state == 'running'


@pytest.mark.parametrize('call', ['shutdown_domain', 'pause_domain',
                                  'unpause_domain', 'console_output'])
def test_missing_domain(backend, call):
    with pytest.raises(exception.DomainNotFound):
        getattr(backend, call)('nosuch')


@pytest.mark.parametrize('call', ['shutdown_domain', 'pause_domain'])
def test_dom0_is_refused(backend, call):
    with pytest.raises(exception.InvalidInput):
        getattr(backend, call)('Domain-0')
    assert backend.connection.lookupByName('Domain-0').isActive() == 1


def test_pause_of_a_paused_domain_is_libvirts_error(backend):
    backend.create_domain(lspec())
    backend.pause_domain('g1')
    with pytest.raises(exception.ToolstackError) as err:
        backend.pause_domain('g1')
    assert 'virDomainSuspend(g1)' in err.value.message


def test_save_and_restore(backend, tmp_path):
    backend.create_domain(lspec(uuid=UUID))
    path = str(tmp_path / 'g1.save')
    backend.save_domain('g1', path)
    assert os.path.getsize(path) > 0
    assert libvirt_names(backend) == ['Domain-0']
    info = backend.restore_domain(lspec(uuid=UUID), path)
    assert (info.name, info.state, info.memory_mb, info.uuid) == (
        'g1', 'running', 1024, UUID)


def test_save_of_a_missing_domain(backend, tmp_path):
    with pytest.raises(exception.DomainNotFound):
        backend.save_domain('nosuch', str(tmp_path / 'nosuch.save'))


def test_restore_of_a_bad_file_is_a_build_failure(backend, tmp_path):
    path = tmp_path / 'g1.save'
    path.write_bytes(b'not a save file')
    with pytest.raises(exception.BuildFailed):
        backend.restore_domain(lspec(), str(path))
    assert backend.list_domains() == []


def test_restore_path_checked(backend):
    with pytest.raises(exception.InvalidInput):
        backend.restore_domain(lspec(), 'relative.save')


def test_console_unavailable_without_a_log(backend):
    backend.create_domain(lspec())
    with pytest.raises(exception.ConsoleUnavailable) as err:
        backend.console_output('g1')
    assert '<log file=' in err.value.message


def test_console_log_named_in_the_xml(tmp_path):
    log = tmp_path / 'console.log'
    log.write_bytes(b'x' * 200 * 1024 + b'login: ')
    xml_text = ('<domain><devices><console type="pty"><log file="%s"/>'
                '</console></devices></domain>' % log)
    assert xml_mod.console_log_path(xml_text) == str(log)
    assert xml_mod.console_log_path('<domain/>') is None
    assert xml_mod.console_log_path('<domain') is None


def test_host_uptime(backend):
    assert ',  load average: ' in backend.host_uptime()


def test_host_uptime_of_a_remote_host_unsupported(backend):
    backend.uri = 'xen+ssh://other/system'
    with pytest.raises(exception.Unsupported):
        backend.host_uptime()


def test_disks_and_vifs_in_the_xml(backend):
    backend.create_domain(lspec(disks=(DISK,), vifs=(VIF,)))
    root = ElementTree.fromstring(
        backend.connection.lookupByName('g1').XMLDesc(0))
    disk = root.find('devices/disk')
    assert disk.get('type') == 'file'
    assert disk.find('source').get('file') == DISK['path']
    assert disk.find('target').get('dev') == 'xvda'
    vif = root.find('devices/interface')
    assert vif.find('mac').get('address') == VIF['mac']
    assert vif.find('source').get('bridge') == 'br100'


@pytest.mark.parametrize('disks, vifs', [
    (({'path': "/a'/><disk", 'vdev': 'xvda'},), ()),
    (({'path': '/a', 'vdev': 'hda"'},), ()),
    ((), ({'mac': 'fa:16:3e:00:00:01', 'bridge': 'br0"/><x'},)),
    ((DISK, DISK), ()),
])
def test_bad_devices_never_reach_libvirt(backend, disks, vifs):
    with pytest.raises(exception.InvalidInput):
        backend.create_domain(lspec(disks=disks, vifs=vifs))
    assert backend.list_domains() == []
