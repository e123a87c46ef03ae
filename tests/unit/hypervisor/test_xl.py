"""The xl backend against the fake xl: figures, lifecycle, and trouble.

Every kind of toolstack trouble must end as one of the project's
exceptions carrying xl's message, with nothing left behind on the host.
"""

import logging
import os
import uuid as uuid_mod

from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslo_utils import importutils
import pytest

from tests.fake_xl import fakexl
from tests.fake_xl import harness
from xenballoon_driver import clock as clock_mod
from xenballoon_driver import exception
from xenballoon_driver import hypervisor
from xenballoon_driver.hypervisor import base
from xenballoon_driver.hypervisor import privsep
from xenballoon_driver.hypervisor import xl
from xenballoon_driver.hypervisor import xl_calls
from xenballoon_driver.hypervisor import xl_config
from xenballoon_driver.hypervisor import xl_exec
from xenballoon_driver.hypervisor import xl_ops

# The captured host (tests/fake_xl/fixtures): 2047 MiB, dom0 1536 MiB.
TOTAL, FREE, DOM0 = 2047, 488, 1536


@pytest.fixture
def fake(tmp_path):
    return harness.FakeXl(tmp_path / 'fake')


def on_virtual_clock(backend):
    """Retries of looks wait on a clock that only moves when slept on."""
    backend.clock = clock_mod.VirtualClock()
    return backend


@pytest.fixture
def backend(conf, fake):
    fake.configure(conf)
    return on_virtual_clock(xl.XlHypervisor(conf))


def spec(name='g1', memory_mb=64, vcpus=1, guest_type='pv'):
    return base.DomainSpec(name=name, memory_mb=memory_mb, vcpus=vcpus,
                           guest_type=guest_type)


def assert_host_clean(fake, backend, dom0_target=DOM0):
    """No domain left, memory all back, dom0 where it was."""
    with fake.host() as model:
        assert model.domains == {}
        assert model.dom0_target_mb == dom0_target
    assert backend.list_domains() == []
    assert backend.host_memory().free_mb == TOTAL - 23 - dom0_target


# -- loading and figures -------------------------------------------------


def test_loaded_by_stevedore(conf, fake):
    fake.configure(conf)
    backend = hypervisor.load(conf)
    assert isinstance(backend, xl.XlHypervisor)
    assert isinstance(backend.clock, clock_mod.RealClock)
    assert 'xl' in hypervisor.available()


def test_memory_figures(backend, fake):
    assert backend.host_memory() == base.HostMemory(
        total_mb=TOTAL, free_mb=FREE, claimed_mb=0)
    assert backend.dom0_memory() == base.Dom0Memory(current_mb=DOM0,
                                                    target_mb=DOM0)
    assert backend.list_domains() == []
    assert fake.calls() == [['info'], ['list', '0'], ['list', '-l', '0'],
                            ['list']]


def test_set_dom0_target_balloons(backend, fake):
    backend.set_dom0_target(1024)
    assert fake.calls()[-1] == ['mem-set', '0', '1024m']
    # At the fake's time scale 512 MiB take 2 ms: done by the next call.
    assert backend.dom0_memory() == base.Dom0Memory(1024, 1024)
    assert backend.host_memory().free_mb == FREE + 512
    backend.set_dom0_target(DOM0)
    assert backend.dom0_memory() == base.Dom0Memory(DOM0, DOM0)


@pytest.mark.parametrize('target', [127, 0, -5, 1024.5, True, '1024'])
def test_set_dom0_target_refused_before_xl(backend, fake, target):
    with pytest.raises(exception.ToolstackError) as err:
        backend.set_dom0_target(target)
    assert 'mem-set 0' in err.value.message
    assert fake.calls() == []


def test_create_list_destroy(backend, fake):
    info = backend.create_domain(spec('g1', 64))
    # Without an instance UUID, xl makes one (the fake: from the name).
    assert info == base.DomainInfo(name='g1', domid=1, memory_mb=64, vcpus=1,
                                   state='running',
                                   uuid=str(uuid_mod.uuid5(
                                       uuid_mod.NAMESPACE_DNS,
                                       'g1.fake-xl')))
    assert backend.list_domains() == [info]
    assert backend.domain_info('g1') == info
    assert backend.host_memory().free_mb == FREE - 64
    create = [argv for argv in fake.calls() if argv[0] == 'create']
    assert len(create) == 1 and len(create[0]) == 2
    path = create[0][1]
    assert os.path.basename(path) == 'g1.cfg'
    # The private directory went with the create.
    assert not os.path.exists(os.path.dirname(path))
    backend.destroy_domain('g1')
    # One look after the destroy: is it really gone?
    assert fake.calls()[-2:] == [['destroy', 'g1'], ['list', 'g1']]
    assert_host_clean(fake, backend)


def test_create_writes_what_the_fake_reads(backend, fake, conf, tmp_path):
    ramdisk = os.path.join(fake.root, 'initrd.img')
    with open(ramdisk, 'wb') as f:
        f.write(b'initrd')
    conf.flags(group='xl', guest_ramdisk=str(ramdisk))
    backend = xl.XlHypervisor(conf)
    info = backend.create_domain(spec('web-01.a_b', 200, vcpus=2))
    assert (info.name, info.memory_mb, info.vcpus) == ('web-01.a_b', 200, 2)
    with fake.host() as model:
        assert model.domains['web-01.a_b']['xl']['kernel'] == fake.kernel


# -- the guest config ----------------------------------------------------


def test_config_text():
    text = xl_config.render(spec('g1', 1024, 4), '/boot/vmlinuz',
                            '/boot/initrd.img')
    assert text.splitlines()[1:] == [
        'name = "g1"', 'type = "pv"', 'kernel = "/boot/vmlinuz"',
        'ramdisk = "/boot/initrd.img"', 'memory = 1024', 'maxmem = 1024',
        'vcpus = 4', 'on_poweroff = "destroy"', 'on_reboot = "restart"',
        'on_crash = "destroy"']
    assert 'ramdisk' not in xl_config.render(spec(), '/boot/vmlinuz')
    assert 'type = "hvm"' in xl_config.render(spec(guest_type='hvm'),
                                              '/boot/vmlinuz')


UUID = '1b4e28ba-2fa1-11d2-883f-0016d3cca427'


def test_config_keeps_the_instance_uuid():
    text = xl_config.render(base.DomainSpec('g1', 64, uuid=UUID),
                            '/boot/vmlinuz')
    assert text.splitlines()[4] == 'uuid = "%s"' % UUID
    assert 'uuid' not in xl_config.render(spec(), '/boot/vmlinuz')


@pytest.mark.parametrize('value', [UUID + '"\nkernel = "/evil', 'g1',
                                   UUID.replace('-', ''), 42])
def test_config_refuses_bad_uuids(value):
    with pytest.raises(exception.InvalidInput, match='instance UUID'):
        xl_config.render(base.DomainSpec('g1', 64, uuid=value),
                         '/boot/vmlinuz')


def test_uuid_read_back_from_xl_list_long_once(backend, fake):
    info = backend.create_domain(base.DomainSpec('g1', 64, uuid=UUID))
    assert info.uuid == UUID
    with fake.host() as model:
        assert model.domains['g1']['xl']['uuid'] == UUID
    assert [d.uuid for d in backend.list_domains()] == [UUID]
    backend.list_domains()
    # A domain's UUID never changes: read once, when it first shows.
    assert fake.calls().count(['list', '-l']) == 1
    backend.destroy_domain('g1')
    again = backend.create_domain(base.DomainSpec('g1', 64))
    assert again.uuid not in (None, UUID)
    assert fake.calls().count(['list', '-l']) == 2


def test_uuids_unreadable_leave_the_figures_alone(backend, fake, conf,
                                                  monkeypatch):
    conf.flags(group='xl', look_retries=0)
    backend.create_domain(base.DomainSpec('g1', 64, uuid=UUID))
    # Another process: it has not read g1's UUID yet.
    other = on_virtual_clock(xl.XlHypervisor(conf))
    monkeypatch.setenv('FAKE_XL_FAULT', 'truncated-json')
    [info] = other.list_domains()
    assert (info.name, info.memory_mb, info.uuid) == ('g1', 64, None)
    monkeypatch.delenv('FAKE_XL_FAULT')
    assert [d.uuid for d in other.list_domains()] == [UUID]


def test_privileged_side_refuses_a_bad_uuid(conf, fake):
    fake.configure(conf)
    fields = {'name': 'g1', 'memory_mb': 64, 'vcpus': 1, 'guest_type': 'pv',
              'kernel': fake.kernel, 'ramdisk': None, 'uuid': 'x"; y'}
    result = xl_ops.create_domain(conf.xl, fields)
    assert 'instance UUID' in str(result)
    assert fake.calls() == []


@pytest.mark.parametrize('name', ['12345', 'bad name', 'bad"dq', "bad'q",
                                  'a\nkernel="/evil"', '', 'Domain-0',
                                  '-rf', 'x' * 65])
def test_config_refuses_names(name):
    with pytest.raises(exception.InvalidInput):
        xl_config.render(spec(name=name), '/boot/vmlinuz')


@pytest.mark.parametrize('field, value', [
    ('memory_mb', 0), ('memory_mb', '64"\nmaxmem=1'), ('memory_mb', 1.5),
    ('memory_mb', True), ('vcpus', -1), ('vcpus', 'two'),
    ('guest_type', 'pv"; kernel="x'),
])
def test_config_refuses_values(field, value):
    kwargs = {'name': 'g1', 'memory_mb': 64, 'vcpus': 1, 'guest_type': 'pv'}
    kwargs[field] = value
    with pytest.raises(exception.InvalidInput):
        xl_config.render(base.DomainSpec(**kwargs), '/boot/vmlinuz')


@pytest.mark.parametrize('path', ['vmlinuz', '/boot/../etc/shadow',
                                  '/boot//vmlinuz', '/boot/vm linuz',
                                  '/boot/vm"linuz', '/boot/vm\\linuz',
                                  '/boot/vmlinuz\n', '/boot/./vmlinuz', ''])
def test_config_refuses_paths(path):
    with pytest.raises(exception.InvalidConfig) as err:
        xl_config.render(spec(), path)
    assert '[xl] guest_kernel' in err.value.message


def test_config_file_is_private(tmp_path):
    path = xl_config.write(str(tmp_path), spec(), '/boot/vmlinuz')
    assert oct(os.stat(path).st_mode & 0o777) == '0o600'
    with pytest.raises(FileExistsError):
        xl_config.write(str(tmp_path), spec(), '/boot/vmlinuz')


# -- toolstack trouble: each a clear exception ---------------------------


@pytest.mark.parametrize('fault, call, reason', [
    ('rc1-info', 'host_memory',
     'exit status 1: Could not obtain handle on privileged command '
     'interface'),
    ('garbage-info', 'host_memory',
     'cannot read its output: line 1 is not "key : value"'),
    ('negative-free', 'host_memory',
     'cannot read its output: free_memory is negative: -42'),
    ('absurd-total', 'host_memory',
     'cannot read its output: total_memory is absurd: 1099511627776'),
    ('missing-field', 'host_memory',
     'cannot read its output: free_memory is missing'),
    ('garbage-list', 'dom0_memory',
     "cannot read its output: unexpected header 'Name ID Mem'"),
    ('truncated-json', 'dom0_memory',
     'cannot read its output: not valid JSON'),
    ('sxp-json', 'dom0_memory', 'output_format="sxp"'),
    ('missing-field', 'dom0_memory',
     'cannot read its output: dom0 b_info.target_memkb is missing'),
    ('no-dom0', 'dom0_memory',
     'cannot read its output: dom0 (domid 0) is missing from the list'),
    ('no-dom0', 'list_domains',
     'cannot read its output: dom0 (domid 0) is missing from the list'),
    ('rc1-list', 'list_domains', 'cannot init xl context'),
])
def test_bad_answers(backend, fake, conf, monkeypatch, fault, call,
                     reason):
    conf.flags(group='xl', look_retries=1)
    monkeypatch.setenv('FAKE_XL_FAULT', fault)
    with pytest.raises(exception.ToolstackError) as err:
        getattr(backend, call)()
    assert reason in err.value.message
    assert err.value.message.startswith('Toolstack call xl ')
    # A look that keeps failing was tried once more, then reported.
    assert fake.calls()[-1] == fake.calls()[-2]
    assert fake.calls().count(fake.calls()[-1]) == 2


def test_non_zero_exit_carries_xls_message(backend, fake, monkeypatch):
    monkeypatch.setenv('FAKE_XL_FAULT', 'rc1-mem-set')
    with pytest.raises(exception.ToolstackError) as err:
        backend.set_dom0_target(1024)
    assert err.value.message == (
        'Toolstack call xl mem-set 0 1024m failed: exit status 1: Could not '
        'obtain handle on privileged command interface: No such file or '
        'directory; cannot open libxc handle: No such file or directory; '
        'cannot init xl context')
    assert err.value.code == 1
    assert 'cannot init xl context' in err.value.stderr
    with fake.host() as model:
        assert model.dom0_target_mb == DOM0


def test_xl_refusal_of_a_target(backend, fake):
    # Above dom0's static maximum (1792 MiB on the captured host).
    with pytest.raises(exception.ToolstackError) as err:
        backend.set_dom0_target(4096)
    assert ('exit status 1: memory_dynamic_max must be less than or equal '
            'to memory_static_max; cannot set domid 0 dynamic max memory to '
            ': 4096m') in err.value.message
    with fake.host() as model:
        assert model.dom0_target_mb == DOM0


def test_timeout_kills_xl(backend, fake, conf, monkeypatch):
    monkeypatch.setenv('FAKE_XL_FAULT', 'timeout-info')
    # The fake xl (a Python script) logs its pid once started: on a
    # loaded machine it may be killed before that, which shows nothing;
    # the timeout doubles until the fake was seen hanging.
    for timeout in (1.0, 2.0, 4.0, 8.0):
        conf.flags(group='xl', command_timeout=timeout, look_retries=0)
        started = len(fake.pids())
        with pytest.raises(exception.ToolstackError) as err:
            xl.XlHypervisor(conf).host_memory()
        assert ('Toolstack call xl info failed: no answer within %.1f s; '
                'xl was killed' % timeout) in err.value.message
        assert err.value.timed_out is True
        if len(fake.pids()) > started:
            break
    else:
        pytest.fail('the fake xl never started within 8 s')
    pid = fake.pids()[-1]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)             # killed and reaped: no xl left behind


def test_binary_missing(conf, fake, tmp_path):
    missing = str(tmp_path / 'no' / 'xl')
    fake.configure(conf, command=missing)
    backend = xl.XlHypervisor(conf)
    with pytest.raises(exception.ToolstackError) as err:
        backend.host_memory()
    assert err.value.message == (
        'Toolstack call xl info failed: cannot run %s: No such file or '
        'directory (set [xl] command to the xl binary)' % missing)


def test_binary_not_executable(conf, fake, tmp_path):
    plain = tmp_path / 'xl-not-executable'
    plain.write_text('#!/bin/sh\n')
    fake.configure(conf, command=str(plain))
    with pytest.raises(exception.ToolstackError) as err:
        xl.XlHypervisor(conf).dom0_memory()
    assert 'Permission denied' in err.value.message


def test_name_taken(backend, fake):
    first = backend.create_domain(spec('g1', 64))
    with pytest.raises(exception.DomainExists) as err:
        backend.create_domain(spec('g1', 128))
    assert err.value.name == 'g1'
    assert 'already exists' in err.value.reason
    # The domain that had the name is someone else's: left alone.
    assert backend.list_domains() == [first]
    assert 'destroy' not in fake.subcommands()


def test_out_of_memory_on_create(backend, fake):
    with pytest.raises(exception.OutOfMemory) as err:
        backend.create_domain(spec('big', 4096))
    assert err.value.message == (
        "Out of memory for big: needs 4098 MiB, 488 MiB free (xl: "
        "xc_dom_boot_mem_init: can't allocate low memory for domain: Out of "
        'memory; xc_dom_boot_mem_init failed: Cannot allocate memory; '
        'Domain 1:cannot (re-)build domain: -3)')
    assert (err.value.need_mb, err.value.free_mb) == (4098, FREE)
    assert err.value.exit_code == exception.EXIT_NO_MEMORY
    assert_host_clean(fake, backend)


def test_out_of_memory_injected(backend, fake, monkeypatch):
    monkeypatch.setenv('FAKE_XL_FAULT', 'oom-create')
    with pytest.raises(exception.OutOfMemory):
        backend.create_domain(spec('g1', 64))
    assert_host_clean(fake, backend)


def test_unknown_domain_on_destroy(backend, fake):
    with pytest.raises(exception.DomainNotFound) as err:
        backend.destroy_domain('nosuch')
    assert err.value.message == 'No domain named nosuch'
    assert err.value.reason == (
        'nosuch is an invalid domain identifier (rc=-6)')
    assert err.value.exit_code == exception.EXIT_NOT_FOUND


def test_destroy_failure_is_a_toolstack_error(backend, fake, monkeypatch):
    backend.create_domain(spec('g1', 64))
    monkeypatch.setenv('FAKE_XL_FAULT', 'rc1-destroy')
    with pytest.raises(exception.ToolstackError) as err:
        backend.destroy_domain('g1')
    assert err.value.message.startswith(
        'Toolstack call xl destroy g1 failed: exit status 1: ')
    assert err.value.message.endswith('cannot init xl context')
    monkeypatch.delenv('FAKE_XL_FAULT')
    assert [d.name for d in backend.list_domains()] == ['g1']


def test_create_refused_by_xl_is_a_build_failure(backend, fake, monkeypatch):
    monkeypatch.setenv('FAKE_XL_FAULT', 'rc1-create')
    with pytest.raises(exception.BuildFailed) as err:
        backend.create_domain(spec('g1', 64))
    assert err.value.message.startswith('Building domain g1 failed: xl '
                                        'create ')
    assert err.value.message.endswith(
        'exited 1: Could not obtain handle on privileged command interface: '
        'No such file or directory; cannot open libxc handle: No such file '
        'or directory; cannot init xl context')
    monkeypatch.delenv('FAKE_XL_FAULT')
    assert_host_clean(fake, backend)


@pytest.mark.parametrize('name', ['12345', 'Domain-0', 'bad name', '0'])
def test_destroy_refuses_domids_and_dom0(backend, fake, name):
    with pytest.raises(exception.InvalidInput):
        backend.destroy_domain(name)
    assert fake.calls() == []


def test_create_timeout_leaves_nothing(conf, fake, monkeypatch):
    monkeypatch.setenv('FAKE_XL_FAULT', 'timeout-create')
    # On a loaded machine xl may be killed before it began (nothing to
    # destroy, nothing shown): the timeout doubles until xl create ran.
    for timeout in (1.0, 2.0, 4.0, 8.0):
        fake.configure(conf, create_timeout=timeout)
        backend = xl.XlHypervisor(conf)
        with pytest.raises(exception.ToolstackError) as err:
            backend.create_domain(spec('g1', 64))
        assert 'xl create' in err.value.message
        assert 'no answer within %.1f s' % timeout in err.value.message
        if 'create' in fake.subcommands():
            break
    else:
        pytest.fail('xl create never started within 8 s')
    # The backend destroyed what xl left.
    subs = fake.subcommands()
    assert subs[subs.index('create') + 1] == 'destroy'
    monkeypatch.delenv('FAKE_XL_FAULT')
    assert_host_clean(fake, backend)


@pytest.mark.parametrize('leaves', [True, False])
def test_build_failure_leaves_nothing(tmp_path, conf, monkeypatch, leaves):
    scenario = {'host': {'total_mb': 4096, 'dom0_mb': 2048,
                         'dom0_low_mb': 256, 'xen_mb': 23},
                'build': {'fail_at_fraction': 0.5}}
    fake = harness.FakeXl(tmp_path / 'fail', scenario=scenario)
    fake.configure(conf)
    backend = xl.XlHypervisor(conf)
    if leaves:
        monkeypatch.setenv('FAKE_XL_FAULT', 'create-leaves-domain')
    with pytest.raises(exception.BuildFailed) as err:
        backend.create_domain(spec('g1', 512))
    assert err.value.message.startswith('Building domain g1 failed: xl '
                                        'create ')
    assert 'exited 3: Domain 1:cannot (re-)build domain: -3' in (
        err.value.message)
    # The backend destroyed what xl left, and looked that it is gone.
    assert fake.subcommands()[-3:] == ['create', 'destroy', 'list']
    with fake.host() as model:
        assert model.domains == {}
        assert model.free_mb() == 4096 - 23 - 2048


def test_missing_kernel_refused_before_xl(conf, fake, tmp_path):
    fake.configure(conf, guest_kernel=str(tmp_path / 'no-such-vmlinuz'))
    backend = xl.XlHypervisor(conf)
    with pytest.raises(exception.InvalidConfig) as err:
        backend.create_domain(spec())
    assert '[xl] guest_kernel' in err.value.message
    assert 'is not a file on this host' in err.value.message
    conf.flags(group='xl', guest_kernel='')
    with pytest.raises(exception.InvalidConfig) as err:
        xl.XlHypervisor(conf).create_domain(spec())
    assert 'it is not set' in err.value.message
    assert fake.calls() == []


def test_bad_kernel_path_refused_at_start(conf, fake):
    fake.configure(conf, guest_kernel='/boot/"; rm -rf /')
    with pytest.raises(exception.InvalidConfig):
        xl.XlHypervisor(conf)


def test_bad_names_refused_before_xl(backend, fake):
    for name in ('12345', 'bad"dq', 'Domain-0'):
        with pytest.raises(exception.InvalidInput):
            backend.create_domain(spec(name=name))
    assert fake.calls() == []


# -- transient trouble: looks are retried, changes are not ---------------


def test_transient_glitch_in_a_look_is_retried(backend, fake, monkeypatch,
                                               caplog):
    monkeypatch.setenv('FAKE_XL_FAULT', 'flaky-info')
    monkeypatch.setenv('FAKE_XL_FLAKY_N', '2')
    with caplog.at_level(logging.WARNING):
        assert backend.host_memory().free_mb == FREE
    assert fake.calls() == [['info']] * 3
    # The pauses ran on the backend's clock, which the balloon wait's
    # stall clock reads: [xl] look_retry_interval each.
    assert backend.clock.now() == 2 * 1.0
    retries = [r.getMessage() for r in caplog.records
               if 'trying again' in r.getMessage()]
    assert len(retries) == 2
    assert retries[0].startswith('Toolstack call xl info failed: exit '
                                 'status 1: ')
    assert '(try 1 of 4)' in retries[0]


def test_persistent_failure_still_fails(backend, fake, conf, monkeypatch):
    conf.flags(group='xl', look_retries=2, look_retry_interval=0.5)
    monkeypatch.setenv('FAKE_XL_FAULT', 'rc1-list')
    with pytest.raises(exception.ToolstackError) as err:
        backend.list_domains()
    assert 'cannot init xl context' in err.value.message
    assert fake.calls() == [['list']] * 3
    assert backend.clock.now() == 1.0


def test_retries_stop_at_the_window(backend, fake, conf, monkeypatch):
    conf.flags(group='xl', look_retries=10, look_retry_interval=1.0,
               look_retry_window=2.5)
    monkeypatch.setenv('FAKE_XL_FAULT', 'rc1-info')
    with pytest.raises(exception.ToolstackError):
        backend.host_memory()
    # Tries at 0, 1 and 2 s; one at 3 s would start past the window.
    assert fake.calls() == [['info']] * 3
    assert backend.clock.now() == 2.0


def test_retries_off(backend, fake, conf, monkeypatch):
    conf.flags(group='xl', look_retries=0)
    monkeypatch.setenv('FAKE_XL_FAULT', 'flaky-info')
    with pytest.raises(exception.ToolstackError):
        backend.host_memory()
    assert fake.calls() == [['info']]


def test_changes_are_not_retried(backend, fake, monkeypatch):
    monkeypatch.setenv('FAKE_XL_FAULT', 'flaky-mem-set,flaky-destroy')
    with pytest.raises(exception.ToolstackError):
        backend.set_dom0_target(1024)
    assert fake.subcommands() == ['mem-set']
    with fake.host() as model:
        assert model.dom0_target_mb == DOM0
    backend.create_domain(spec('g1', 64))
    with pytest.raises(exception.ToolstackError):
        backend.destroy_domain('g1')
    assert fake.subcommands().count('destroy') == 1
    assert [d.name for d in backend.list_domains()] == ['g1']
    assert backend.clock.now() == 0.0


def test_create_not_retried(backend, fake, monkeypatch):
    monkeypatch.setenv('FAKE_XL_FAULT', 'flaky-create')
    with pytest.raises(exception.BuildFailed):
        backend.create_domain(spec('g1', 64))
    assert fake.subcommands().count('create') == 1


# -- xl destroy that does not destroy -------------------------------------


def test_destroy_that_did_nothing_is_an_error(backend, fake, monkeypatch):
    backend.create_domain(spec('g1', 64))
    monkeypatch.setenv('FAKE_XL_FAULT', 'destroy-noop')
    with pytest.raises(exception.ToolstackError) as err:
        backend.destroy_domain('g1')
    assert err.value.message == (
        'Toolstack call xl destroy g1 failed: xl exited 0 but xl list g1 '
        'still shows the domain (id 1, 64 MiB): it was not destroyed; its '
        'memory is not back. Try the destroy again')
    assert err.value.domain_left is True
    assert fake.calls()[-2:] == [['destroy', 'g1'], ['list', 'g1']]
    monkeypatch.delenv('FAKE_XL_FAULT')
    backend.destroy_domain('g1')
    assert_host_clean(fake, backend)


def test_destroy_check_glitch_is_retried(backend, fake, monkeypatch):
    backend.create_domain(spec('g1', 64))
    calls = len(fake.calls())
    monkeypatch.setenv('FAKE_XL_FAULT', 'flaky-list')
    backend.destroy_domain('g1')
    assert fake.calls()[calls:] == [['destroy', 'g1'], ['list', 'g1'],
                                    ['list', 'g1']]


# -- xl.conf -------------------------------------------------------------


def _claim_warnings(caplog):
    return [r for r in caplog.records if r.levelno == logging.WARNING and
            'claim_mode is off' in r.getMessage()]


def test_claims_off_warned_once(conf, tmp_path, caplog):
    fake = harness.FakeXl(tmp_path / 'noclaims', claim_mode=0)
    fake.configure(conf)
    with caplog.at_level(logging.WARNING, logger='xenballoon_driver'):
        backend = xl.XlHypervisor(conf)
        backend.create_domain(spec('g1', 64))
        backend.host_memory()
    assert backend.claim_mode is False
    warnings = _claim_warnings(caplog)
    assert len(warnings) == 1
    assert 'can race other memory users' in warnings[0].getMessage()
    with fake.host() as model:
        assert model.domains['g1']['state'] == 'running'


@pytest.mark.parametrize('claim_mode', [None, 1])
def test_claims_on_not_warned(conf, tmp_path, caplog, claim_mode):
    fake = harness.FakeXl(tmp_path / 'claims', claim_mode=claim_mode)
    fake.configure(conf)
    with caplog.at_level(logging.WARNING, logger='xenballoon_driver'):
        assert xl.XlHypervisor(conf).claim_mode is True
    assert _claim_warnings(caplog) == []


def test_missing_xl_conf_means_claims_on(conf, fake, tmp_path):
    fake.configure(conf, xl_conf=str(tmp_path / 'absent.conf'))
    assert xl.XlHypervisor(conf).claim_mode is True


def test_claims_are_not_usable(conf, tmp_path):
    # A create in progress holds a claim on the rest of its memory: that
    # memory is free in Xen's eyes but not usable.
    scenario = dict(fakexl.CAPTURED_SCENARIO,
                    build={'populate_rate_mb_s': 0.001})  # 40 MiB: hours
    fake = harness.FakeXl(tmp_path / 'slow', scenario=scenario,
                          dom0_max_mb=1792, time_scale=1.0)
    fake.configure(conf)
    with fake.host() as model:
        model.start_build('other', 100.0, 1)
        model.domains['other']['populated_mb'] = 40.5
    backend = xl.XlHypervisor(conf)
    mem = backend.host_memory()
    # Xen's figures are whole MiB rounded down: 447.5 and 59.5.
    assert (mem.free_mb, mem.claimed_mb, mem.usable_mb) == (
        FREE - 41, 59, FREE - 100)
    # xl list's Mem counts the claim: the domain holds all it will have.
    assert backend.domain_info('other').memory_mb == 100
    assert backend.domain_info('other').state == 'paused'


# -- privsep -------------------------------------------------------------


@pytest.fixture
def global_xl_conf(fake):
    """[xl] command on cfg.CONF: what a privsep daemon would read."""
    fixture = config_fixture.Config(cfg.CONF)
    fixture.setUp()
    fixture.config(group='xl', command=fake.command)
    yield
    fixture.cleanUp()


@pytest.fixture
def in_process_privsep():
    privsep.xl_pctxt.set_client_mode(False)
    yield
    privsep.xl_pctxt.set_client_mode(True)


def test_not_root_goes_through_privsep(conf, fake, monkeypatch,
                                       global_xl_conf, in_process_privsep):
    monkeypatch.setattr(xl_calls.os, 'geteuid', lambda: 1000)
    fake.configure(conf)
    backend = xl.XlHypervisor(conf)
    assert backend.privileged is True
    backend.command = '/nonexistent/xl'     # not used on the privsep path
    called = []
    real_run = xl_exec.run

    def spy(*args):
        called.append(args)
        return real_run(*args)
    monkeypatch.setattr(xl_exec, 'run', spy)
    assert backend.host_memory().total_mb == TOTAL
    # The daemon ran its own [xl] command with the caller's arguments.
    assert called == [(fake.command, ['info'], 60.0)]


def test_privsep_daemon_failure(conf, fake, monkeypatch):
    monkeypatch.setattr(xl_calls.os, 'geteuid', lambda: 1000)
    fake.configure(conf)
    backend = on_virtual_clock(xl.XlHypervisor(conf))

    def broken():
        raise OSError('sudo: privsep-helper: command not found')
    monkeypatch.setattr(privsep, 'info', broken)
    with pytest.raises(exception.ToolstackError) as err:
        backend.host_memory()
    assert 'privsep daemon failed: OSError: sudo: privsep-helper' in (
        err.value.message)
    # Not a transient glitch: reported at once, not retried.
    assert backend.clock.now() == 0.0


# -- privsep: root runs only what the backend itself asks for -------------


def fields(fake, **changes):
    out = {'name': 'g1', 'memory_mb': 64, 'vcpus': 1, 'guest_type': 'pv',
           'kernel': fake.kernel, 'ramdisk': None}
    out.update(changes)
    return out


@pytest.fixture
def privileged(fake, global_xl_conf, in_process_privsep):
    """The daemon's side in this process: its [xl] options on cfg.CONF."""
    cfg.CONF.set_override('guest_image_dirs', [fake.root], group='xl')
    yield fake
    cfg.CONF.clear_override('guest_image_dirs', group='xl')


def test_privsep_typed_calls_work(privileged):
    fake = privileged
    assert privsep.set_dom0_target(1024)[:2] == (xl_exec.EXITED, 0)
    status = privsep.create_domain(fields(fake))
    assert status[:2] == (xl_exec.EXITED, 0), status
    assert privsep.domain_list('g1')[1] == 0
    assert privsep.destroy_domain('g1')[:2] == (xl_exec.EXITED, 0)
    assert [argv[0] for argv in fake.calls()] == [
        'mem-set', 'create', 'list', 'destroy']
    create = fake.calls()[1]
    # A config the privileged side wrote into a directory of its own,
    # gone once xl has read it.
    assert os.path.basename(create[1]) == 'g1.cfg'
    assert not os.path.exists(os.path.dirname(create[1]))
    with fake.host() as model:
        assert model.domains == {}
        assert model.dom0_target_mb == 1024


ESCAPES = [
    # mem-set of dom0: only ints within bounds.
    ('set_dom0_target', (-5,)), ('set_dom0_target', (0,)),
    ('set_dom0_target', (127,)), ('set_dom0_target', (2 ** 40,)),
    ('set_dom0_target', (1024.0,)), ('set_dom0_target', (1024.5,)),
    ('set_dom0_target', ('1024',)), ('set_dom0_target', ('1024m',)),
    ('set_dom0_target', (True,)), ('set_dom0_target', (None,)),
    ('set_dom0_target', ([1024],)),
    # destroy: our names only, never dom0 or a domid or an option.
    ('destroy_domain', ('0',)), ('destroy_domain', ('Domain-0',)),
    ('destroy_domain', ('12345',)), ('destroy_domain', ('-f',)),
    ('destroy_domain', ('--force',)), ('destroy_domain', ('g1 g2',)),
    ('destroy_domain', ('g1\n',)), ('destroy_domain', (['g1'],)),
    ('destroy_domain', (0,)), ('destroy_domain', ('',)),
    ('domain_list', ('-l',)), ('domain_list', ('0',)),
    ('domain_list', ('Domain-0',)),
]


@pytest.mark.parametrize('op, args', ESCAPES)
def test_privsep_refuses_escapes(privileged, op, args):
    status = getattr(privsep, op)(*args)
    assert status[0] == xl_exec.REFUSED, status
    assert 'nothing run' in status[3]
    assert privileged.calls() == []


CREATE_ESCAPES = [
    {'kernel': '/etc/shadow'},                       # outside the list
    {'kernel': '/boot/../etc/shadow'},               # traversal
    {'kernel': 'vmlinuz'},                           # relative
    {'ramdisk': '/etc/shadow'},
    {'name': '-f'}, {'name': 'Domain-0'}, {'name': '0'},
    {'name': 'g1\nkernel="/evil"'}, {'name': 'a b'},
    {'memory_mb': '64'}, {'memory_mb': 64.0}, {'memory_mb': True},
    {'memory_mb': -1}, {'memory_mb': 0}, {'memory_mb': 2 ** 40},
    {'vcpus': 0}, {'vcpus': '1'}, {'vcpus': 10 ** 6},
    {'guest_type': 'pv"\nkernel="/evil'}, {'guest_type': ['pv']},
    {'extra': ['-x']}, {'config_path': '/tmp/evil.cfg'},
]


@pytest.mark.parametrize('changes', CREATE_ESCAPES)
def test_privsep_create_refuses_escapes(privileged, changes):
    status = privsep.create_domain(fields(privileged, **changes))
    assert status[0] == xl_exec.REFUSED, status
    assert privileged.calls() == []


@pytest.mark.parametrize('bad', [None, [], 'name=g1', {'name': 'g1'}])
def test_privsep_create_refuses_other_shapes(privileged, bad):
    assert privsep.create_domain(bad)[0] == xl_exec.REFUSED
    assert privileged.calls() == []


def test_privsep_create_refuses_files_others_can_swap(privileged, tmp_path):
    fake = privileged
    # A directory group or others can write, inside the allowed one.
    shared = os.path.join(fake.root, 'shared')
    os.mkdir(shared)
    os.chmod(shared, 0o777)
    kernel = os.path.join(shared, 'vmlinuz')
    with open(kernel, 'wb') as f:
        f.write(b'kernel')
    status = privsep.create_domain(fields(fake, kernel=kernel))
    assert status[0] == xl_exec.REFUSED
    assert 'not writable by group or others' in status[3]
    # A file of another user's.
    os.chmod(shared, 0o755)
    os.chown(kernel, 4242, 4242)
    status = privsep.create_domain(fields(fake, kernel=kernel))
    assert status[0] == xl_exec.REFUSED
    assert 'owned by uid 4242' in status[3]
    # A link from the allowed directory to a file outside it.
    outside = tmp_path / 'outside-vmlinuz'
    outside.write_bytes(b'kernel')
    link = os.path.join(fake.root, 'link-vmlinuz')
    os.symlink(str(outside), link)
    status = privsep.create_domain(fields(fake, kernel=link))
    assert status[0] == xl_exec.REFUSED
    assert 'guest_image_dirs' in status[3]
    assert fake.calls() == []


@pytest.mark.parametrize('op', ['info', 'list_domains', 'dom0_list',
                                'dom0_list_long', 'domain_list',
                                'set_dom0_target', 'create_domain',
                                'destroy_domain', 'shutdown_domain',
                                'pause_domain', 'unpause_domain',
                                'save_domain', 'restore_domain',
                                'console_log'])
def test_privsep_daemon_finds_each_entry_point(op):
    # The daemon imports "module.name" of what the client asked for, and
    # privsep-helper imports the context by its pypath.
    found = importutils.import_class('%s.%s' % (privsep.__name__, op))
    assert found is getattr(privsep, op)
    assert privsep.xl_pctxt.is_entrypoint(found)
    assert importutils.import_class(
        privsep.xl_pctxt.pypath) is privsep.xl_pctxt


def test_privsep_extra_arguments_refused(privileged):
    with pytest.raises(TypeError):
        privsep.set_dom0_target(1024, '--force')
    with pytest.raises(TypeError):
        privsep.destroy_domain('g1', '0')
    with pytest.raises(TypeError):
        privsep.info('-n')
    assert privileged.calls() == []


def test_root_backend_passes_the_same_checks(backend, fake, conf, tmp_path):
    # The service runs as root: no daemon, the same checked functions.
    assert backend.privileged is False
    outside = tmp_path / 'vmlinuz-elsewhere'
    outside.write_bytes(b'kernel')
    conf.flags(group='xl', guest_kernel=str(outside))
    backend = on_virtual_clock(xl.XlHypervisor(conf))
    with pytest.raises(exception.ToolstackError) as err:
        backend.create_domain(spec('g1', 64))
    assert 'refused by the privileged side, nothing run' in err.value.message
    assert 'guest_image_dirs' in err.value.message
    # Refused: no xl ran, not even a destroy of the name.
    assert fake.calls() == []


def test_runner_answers_survive_serialisation():
    # privsep sends tuples as lists.
    result = xl_exec.check([xl_exec.EXITED, 3, 'out', 'err'], 'xl x', 'xl',
                           5)
    assert result == xl_exec.Result(3, 'out', 'err')
    with pytest.raises(exception.ToolstackError):
        xl_exec.check(['what'], 'xl x', 'xl', 5)


def test_guest_uuids_from_the_real_capture():
    from tests.unit.hypervisor.test_xl_parse import capture
    from xenballoon_driver.hypervisor import xl_parse

    entries = xl_parse.parse_list_long(capture('a063_xl_list_l_all_with_g1'))
    assert xl_calls.guest_uuids(entries) == {
        (1, 'g1'): '70082616-ffe1-4538-9300-c98504db0954'}
    # No c_info, no name or no canonical UUID: left out, never guessed.
    entries[1]['config']['c_info']['uuid'] = 'not-a-uuid'
    assert xl_calls.guest_uuids(entries) == {}
    del entries[1]['config']['c_info']
    assert xl_calls.guest_uuids(entries) == {}
