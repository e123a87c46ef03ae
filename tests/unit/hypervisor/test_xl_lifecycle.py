"""The xl backend's guest lifecycle against the fake xl: shutdown, pause,
unpause, save and restore, the console log, uptime, disks and vifs.

The fake answers as xl 4.17.7 does (tests/fake_xl/lifecycle.py says
where each behaviour comes from); every failure must end as one of the
project's exceptions with xl's message, and leave the host as it says.
"""

import errno
import os
import time

import pytest

from tests.fake_xl import harness
from tests.unit.hypervisor.test_xl import on_virtual_clock
from xenballoon_driver import exception
from xenballoon_driver.hypervisor import base
from xenballoon_driver.hypervisor import host_uptime
from xenballoon_driver.hypervisor import xl
from xenballoon_driver.hypervisor import xl_config
from xenballoon_driver.hypervisor import xl_exec
from xenballoon_driver.hypervisor import xl_ops

FREE = 488
UUID = '6f1c1c9e-7d3a-4f0e-9a51-2b3c4d5e6f70'


@pytest.fixture
def fake(tmp_path):
    return harness.FakeXl(tmp_path / 'fake')


@pytest.fixture
def backend(conf, fake):
    fake.configure(conf, shutdown_timeout=5.0)
    return on_virtual_clock(xl.XlHypervisor(conf))


def spec(name='g1', memory_mb=64, **kw):
    return base.DomainSpec(name=name, memory_mb=memory_mb, **kw)


def gone_soon(backend, name, real_s=5.0):
    """Whether ``name`` goes within real_s.

    The fake's clock runs x1000: its 3 s power-off is 3 ms.
    """
    deadline = time.monotonic() + real_s
    while time.monotonic() < deadline:
        if name not in [d.name for d in backend.list_domains()]:
            return True
        time.sleep(0.005)
    return False


@pytest.fixture
def saved_dir(fake):
    path = os.path.join(fake.root, 'state', 'saved')
    os.makedirs(path)
    return path


# -- shutdown --------------------------------------------------------------


def test_shutdown_returns_at_once_and_the_guest_goes(backend, fake):
    backend.create_domain(spec())
    backend.shutdown_domain('g1')
    assert fake.calls()[-1] == ['shutdown', '-F', 'g1']
    assert gone_soon(backend, 'g1')
    assert backend.host_memory().free_mb == FREE


def test_shutdown_of_a_slow_guest_leaves_it_running(backend, fake,
                                                    monkeypatch):
    monkeypatch.setenv('FAKE_XL_SHUTDOWN_S', '100000')
    backend.create_domain(spec())
    backend.shutdown_domain('g1')
    assert backend.domain_info('g1').state == 'running'


def test_shutdown_of_a_missing_domain(backend, fake):
    with pytest.raises(exception.DomainNotFound) as err:
        backend.shutdown_domain('nosuch')
    assert 'nosuch is an invalid domain identifier' in err.value.reason


def test_shutdown_ignored_by_the_guest_is_not_an_error(backend, fake,
                                                       monkeypatch):
    # pvgrub at its prompt: xl waits libxl's 60 s (60 ms here), exits 1.
    monkeypatch.setenv('FAKE_XL_FAULT', 'shutdown-ignored')
    backend.create_domain(spec())
    backend.shutdown_domain('g1')
    assert backend.domain_info('g1').state == 'running'


def test_shutdown_waiting_too_long_is_cut_short(conf, fake, monkeypatch):
    # libxl would wait 60 s for the guest; we wait shutdown_timeout.
    monkeypatch.setenv('FAKE_XL_FAULT', 'timeout-shutdown')
    monkeypatch.setenv('FAKE_XL_HANG_S', '30')
    fake.configure(conf, shutdown_timeout=1.0)
    backend = on_virtual_clock(xl.XlHypervisor(conf))
    backend.create_domain(spec())
    started = time.monotonic()
    backend.shutdown_domain('g1')
    assert time.monotonic() - started < 10
    assert backend.domain_info('g1').state == 'running'


def test_shutdown_failure_carries_xls_message(backend, fake, monkeypatch):
    backend.create_domain(spec())
    monkeypatch.setenv('FAKE_XL_FAULT', 'rc1-shutdown')
    with pytest.raises(exception.ToolstackError) as err:
        backend.shutdown_domain('g1')
    assert 'cannot init xl context' in err.value.message


# -- pause / unpause --------------------------------------------------------


def test_pause_and_unpause(backend, fake):
    backend.create_domain(spec(memory_mb=96))
    backend.pause_domain('g1')
    info = backend.domain_info('g1')
    assert (info.state, info.memory_mb) == ('paused', 96)
    assert backend.host_memory().free_mb == FREE - 96
    backend.unpause_domain('g1')
    assert backend.domain_info('g1').state == 'running'
    assert [c for c in fake.calls() if c[0] in ('pause', 'unpause')] == [
        ['pause', 'g1'], ['unpause', 'g1']]


def test_paused_guest_shuts_down_once_unpaused(backend, fake):
    backend.create_domain(spec())
    backend.pause_domain('g1')
    backend.shutdown_domain('g1')       # not taken: xl fails after 60 s
    assert not gone_soon(backend, 'g1', real_s=0.1)
    backend.unpause_domain('g1')
    assert gone_soon(backend, 'g1')


@pytest.mark.parametrize('call', ['pause_domain', 'unpause_domain'])
def test_pause_of_a_missing_domain(backend, call):
    with pytest.raises(exception.DomainNotFound):
        getattr(backend, call)('nosuch')


def test_pause_that_did_nothing_is_an_error(backend, fake, monkeypatch):
    # xl pause exits 0 whatever libxl answered.
    backend.create_domain(spec())
    monkeypatch.setenv('FAKE_XL_FAULT', 'pause-noop')
    with pytest.raises(exception.ToolstackError) as err:
        backend.pause_domain('g1')
    assert 'xl exited 0 but xl list g1 shows it running' in err.value.message


# -- save / restore ---------------------------------------------------------


def test_save_and_restore(backend, fake, saved_dir):
    backend.create_domain(spec(memory_mb=100, uuid=UUID))
    path = os.path.join(saved_dir, 'g1.save')
    backend.save_domain('g1', path)
    assert fake.calls()[-2:] == [['save', 'g1', path], ['list', 'g1']]
    assert backend.list_domains() == []
    assert backend.host_memory().free_mb == FREE
    assert os.path.getsize(path) > 100
    info = backend.restore_domain(spec(memory_mb=100, uuid=UUID), path)
    assert (info.name, info.memory_mb, info.state, info.uuid) == (
        'g1', 100, 'running', UUID)
    restore = fake.calls()[-3]
    assert restore[0] == 'restore' and restore[2] == path
    # Our config, not the one in the file; gone with its directory.
    assert os.path.basename(restore[1]) == 'g1.cfg'
    assert not os.path.exists(os.path.dirname(restore[1]))
    assert os.path.exists(path)     # the caller's to remove


def test_save_of_a_missing_domain(backend, saved_dir):
    with pytest.raises(exception.DomainNotFound):
        backend.save_domain('nosuch', os.path.join(saved_dir,
                                                   'nosuch.save'))


def test_save_that_fails_resumes_and_leaves_no_file(backend, fake,
                                                    saved_dir, monkeypatch):
    backend.create_domain(spec())
    monkeypatch.setenv('FAKE_XL_FAULT', 'save-fails')
    path = os.path.join(saved_dir, 'g1.save')
    with pytest.raises(exception.ToolstackError) as err:
        backend.save_domain('g1', path)
    assert 'Failed to save domain, resuming domain' in err.value.message
    assert 'did not respond to suspend request' in err.value.message
    assert backend.domain_info('g1').state == 'running'
    assert not os.path.exists(path)


def test_save_whose_destroy_left_the_domain(backend, fake, saved_dir,
                                            monkeypatch):
    backend.create_domain(spec())
    monkeypatch.setenv('FAKE_XL_FAULT', 'save-leaves-domain')
    backend.save_domain('g1', os.path.join(saved_dir, 'g1.save'))
    assert ['destroy', 'g1'] in fake.calls()
    assert backend.list_domains() == []


@pytest.mark.parametrize('path', [
    'relative/g1.save', '/x/../g1.save', '{saved}/g2.save', '{saved}/g1',
    '{saved}/missing/g1.save', '{saved}/g1.save\n', '{link}/g1.save'])
def test_save_paths_refused_before_xl(backend, fake, saved_dir, path):
    link = os.path.join(fake.root, 'link')
    os.symlink(saved_dir, link)
    backend.create_domain(spec())
    before = len(fake.calls())
    with pytest.raises(exception.ToolstackError) as err:
        backend.save_domain('g1', path.format(saved=saved_dir, link=link))
    assert 'nothing run' in err.value.message
    assert len(fake.calls()) == before
    assert backend.domain_info('g1').state == 'running'


def test_save_never_overwrites(backend, fake, saved_dir):
    backend.create_domain(spec())
    path = os.path.join(saved_dir, 'g1.save')
    os.symlink('/etc/hostname', path)
    with pytest.raises(exception.ToolstackError) as err:
        backend.save_domain('g1', path)
    assert 'already exists' in err.value.message
    assert os.path.islink(path)


def test_restore_without_memory(backend, fake, saved_dir):
    backend.create_domain(spec(memory_mb=300))
    path = os.path.join(saved_dir, 'g1.save')
    backend.save_domain('g1', path)
    backend.create_domain(spec('other', 300))
    with pytest.raises(exception.OutOfMemory) as err:
        backend.restore_domain(spec(memory_mb=300), path)
    assert 'Cannot allocate memory' in err.value.message
    assert [d.name for d in backend.list_domains()] == ['other']


def test_restore_of_a_taken_name(backend, fake, saved_dir):
    backend.create_domain(spec())
    path = os.path.join(saved_dir, 'g1.save')
    backend.save_domain('g1', path)
    backend.create_domain(spec())
    with pytest.raises(exception.DomainExists):
        backend.restore_domain(spec(), path)
    assert backend.domain_info('g1').state == 'running'


def test_restore_of_a_bad_file(backend, fake, saved_dir):
    path = os.path.join(saved_dir, 'g1.save')
    with open(path, 'wb') as f:
        f.write(b'not a save file')
    with pytest.raises(exception.BuildFailed) as err:
        backend.restore_domain(spec(), path)
    assert 'File has wrong magic number' in err.value.message
    assert backend.list_domains() == []


def test_restore_of_no_file_refused(backend, fake, saved_dir):
    with pytest.raises(exception.ToolstackError) as err:
        backend.restore_domain(spec(), os.path.join(saved_dir, 'g1.save'))
    assert 'not a regular file' in err.value.message
    assert fake.calls() == []


# -- console ---------------------------------------------------------------


def test_console_output(backend, fake):
    backend.create_domain(spec())
    assert backend.console_output('g1') == 'GUEST: up, 64 MiB\n'


def test_console_output_is_the_last_100_kib(backend, fake):
    backend.create_domain(spec())
    with open(os.path.join(fake.console_dir, 'guest-g1.log'), 'a') as f:
        f.write('x' * 200 * 1024 + 'the end\n')
    text = backend.console_output('g1')
    assert len(text) == 100 * 1024 and text.endswith('the end\n')


def test_console_unavailable(backend, fake):
    backend.create_domain(spec())
    os.unlink(os.path.join(fake.console_dir, 'guest-g1.log'))
    with pytest.raises(exception.ConsoleUnavailable) as err:
        backend.console_output('g1')
    assert '--log=guest' in err.value.message


def test_console_of_a_missing_domain(backend):
    with pytest.raises(exception.DomainNotFound):
        backend.console_output('nosuch')


def test_console_log_not_followed_through_a_link(conf, fake, tmp_path):
    os.makedirs(fake.console_dir)
    os.symlink('/etc/hostname', os.path.join(fake.console_dir,
                                             'guest-g1.log'))
    fake.configure(conf)
    status = xl_ops.console_log(conf.xl, 'g1')
    assert status[:2] == (xl_exec.OS_ERROR, errno.ELOOP)


# -- uptime ----------------------------------------------------------------


@pytest.mark.parametrize('up_s, expected', [
    (59, ' 10:31:12 up 0 min,  load average: 0.00, 0.01, 0.05'),
    (3 * 3600 + 4 * 60 + 9,
     ' 10:31:12 up  3:04,  load average: 0.00, 0.01, 0.05'),
    (86400 + 60, ' 10:31:12 up 1 day, 1 min,  load average: 0.00, 0.01, '
                 '0.05'),
    (2 * 86400 + 3 * 3600 + 4 * 60,
     ' 10:31:12 up 2 days,  3:04,  load average: 0.00, 0.01, 0.05'),
])
def test_uptime_as_uptime_prints_it(up_s, expected):
    now = time.struct_time((2026, 11, 30, 10, 31, 12, 0, 334, 0))
    assert host_uptime.render(up_s, [0.0, 0.01, 0.05], now) == expected


def test_host_uptime(backend):
    assert ' up ' in backend.host_uptime()
    assert ',  load average: ' in backend.host_uptime()


def test_host_uptime_unreadable(tmp_path):
    with pytest.raises(exception.ToolstackError):
        host_uptime.read(str(tmp_path / 'none'), str(tmp_path / 'none'))


# -- disks and vifs ---------------------------------------------------------


DISK = {'path': '/var/lib/nova/instances/u1/disk', 'vdev': 'xvda'}
VIF = {'mac': 'fa:16:3e:00:00:01', 'bridge': 'br100'}


def test_config_has_disks_and_vifs():
    text = xl_config.render(spec(disks=(DISK,), vifs=(VIF,)), '/boot/k')
    assert ('disk = [ "format=raw, vdev=xvda, access=rw, '
            'target=/var/lib/nova/instances/u1/disk" ]') in text
    assert 'vif = [ "mac=fa:16:3e:00:00:01, bridge=br100" ]' in text


@pytest.mark.parametrize('disks, vifs', [
    (({'path': '/a", "target=/dev/sda', 'vdev': 'xvda'},), ()),
    (({'path': '/a, target=/dev/sda', 'vdev': 'xvda'},), ()),
    (({'path': '/a', 'vdev': 'sda'},), ()),
    ((DISK, DISK), ()),
    ((), ({'mac': 'fa:16:3e:00:00:01', 'bridge': 'br0, script=/x'},)),
    ((), ({'mac': 'FA:16:3E:00:00:01', 'bridge': 'br0'},)),
    ((), (VIF, VIF)),
])
def test_config_refuses_bad_devices(disks, vifs):
    with pytest.raises(exception.InvalidInput):
        xl_config.render(spec(disks=disks, vifs=vifs), '/boot/k')


def test_create_with_a_disk_and_a_vif(backend, fake):
    disk = os.path.join(fake.root, 'disk.img')
    with open(disk, 'wb') as f:
        f.write(b'\0' * 4096)
    backend.create_domain(spec(disks=({'path': disk, 'vdev': 'xvda'},),
                               vifs=(VIF,)))
    with fake.host() as model:
        xl_seen = model.domains['g1']['xl']
    assert xl_seen['disk'] == [
        'format=raw, vdev=xvda, access=rw, target=%s' % disk]
    assert xl_seen['vif'] == ['mac=fa:16:3e:00:00:01, bridge=br100']


@pytest.mark.parametrize('where', ['outside', 'link', 'missing', 'dir'])
def test_disks_root_would_not_hand_over_refused(backend, fake, tmp_path,
                                                where):
    outside = tmp_path / 'outside.img'
    outside.write_bytes(b'disk')
    path = {'outside': str(outside),
            'link': os.path.join(fake.root, 'link.img'),
            'missing': os.path.join(fake.root, 'missing.img'),
            'dir': fake.root + '/console'}[where]
    os.symlink(str(outside), os.path.join(fake.root, 'link.img'))
    os.makedirs(fake.root + '/console', exist_ok=True)
    with pytest.raises(exception.ToolstackError) as err:
        backend.create_domain(spec(disks=({'path': path, 'vdev': 'xvda'},)))
    assert 'nothing run' in err.value.message
    assert fake.calls() == []


# -- privsep ---------------------------------------------------------------


@pytest.mark.parametrize('op, args', [
    ('shutdown_domain', ('-a',)), ('shutdown_domain', ('0',)),
    ('pause_domain', ('Domain-0',)), ('unpause_domain', ('g1 -x',)),
    ('save_domain', ('g1', '/etc/passwd')),
    ('save_domain', ('0', '/tmp/0.save')),
    ('console_log', ('../../etc/shadow',)),
])
def test_lifecycle_ops_refuse_escapes(conf, fake, op, args):
    fake.configure(conf)
    status = getattr(xl_ops, op)(conf.xl, *args)
    assert status[0] == xl_exec.REFUSED, status
    assert fake.calls() == []
