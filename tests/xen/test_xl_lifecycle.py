"""The xl backend's guest lifecycle against real xl, in dom0.

A Linux guest (the Debian kernel with a busybox initrd whose
/sbin/poweroff powers off at once: tools/xen/guest-poweroff) is paused,
unpaused, saved, restored and shut down through XlHypervisor; a pvgrub
guest shows what xl shutdown does to a guest that never takes the
request. Each test checks the host with xl itself and records its
timings (measure).
"""

import os
import time

import pytest

from xenballoon_driver import driver as driver_mod
from xenballoon_driver import exception
from xenballoon_driver import hypervisor
from xenballoon_driver.hypervisor import base
from xenballoon_driver.hypervisor import xl

from tests.xen import options
from tests.xen import xenhost

VMLINUZ = '/guest/vmlinuz'
INITRD = '/guest/initrd.gz'
PVGRUB = '/guest/pvgrub.bin'
UUID = '3c1f5a2e-9b7d-4e6f-8a1b-2c3d4e5f6a7b'
LINUX_MB = 128
BOOT_TIMEOUT_S = 120
GONE_TIMEOUT_S = 120


@pytest.fixture
def make_backend(conf):
    if 'xl' not in hypervisor.available():
        pytest.skip('the xl hypervisor backend is not installed')

    def make(kernel=VMLINUZ, ramdisk=INITRD, **options):
        conf.flags(group='xl', guest_kernel=kernel, guest_ramdisk=ramdisk,
                   guest_image_dirs=['/guest'], command_timeout=60.0,
                   create_timeout=180.0, destroy_timeout=120.0,
                   save_timeout=300.0, **options)
        return xl.XlHypervisor(conf)
    return make


@pytest.fixture
def cleanup():
    names = []
    yield names
    for name in names:
        xenhost.destroy_quietly(name)


def booted(backend, name, boots=1):
    """Until the guest's init wrote its line on the console log.

    xenconsoled appends each boot of a name to the same log: ``boots``
    is how many lines to wait for.
    """
    def up():
        try:
            return backend.console_output(name).count('GUEST: up') >= boots
        except exception.ConsoleUnavailable:
            return False    # xenconsoled has not opened the log yet
    return xenhost.wait_for(up, BOOT_TIMEOUT_S, interval=0.5)


def test_linux_guest_pause_shutdown_and_uuid(make_backend, cleanup,
                                             measure):
    backend = make_backend(shutdown_timeout=30.0)
    cleanup.append('lcg')
    free0 = xenhost.free_mb()
    t0 = time.monotonic()
    info = backend.create_domain(base.DomainSpec(
        name='lcg', memory_mb=LINUX_MB, uuid=UUID))
    create_s = time.monotonic() - t0
    # The uuid= line of the config, read back from xl list -l.
    assert info.uuid == UUID
    assert backend.domain_info('lcg').uuid == UUID
    assert booted(backend, 'lcg'), backend.console_output('lcg')
    boot_s = time.monotonic() - t0

    backend.pause_domain('lcg')
    paused = xenhost.domains()['lcg']
    assert 'p' in paused[2], paused
    assert backend.domain_info('lcg').state == 'paused'
    assert backend.domain_info('lcg').memory_mb == info.memory_mb
    backend.unpause_domain('lcg')
    assert 'p' not in xenhost.domains()['lcg'][2]

    t1 = time.monotonic()
    backend.shutdown_domain('lcg')
    request_s = time.monotonic() - t1
    assert xenhost.wait_for(lambda: 'lcg' not in xenhost.domains(),
                            GONE_TIMEOUT_S), xenhost.domains()
    gone_s = time.monotonic() - t1
    assert xenhost.wait_for(lambda: xenhost.free_mb() >= free0 - 1, 30)
    with pytest.raises(exception.DomainNotFound):
        backend.shutdown_domain('lcg')
    measure.record('linux_lifecycle', create_s=round(create_s, 2),
                   boot_s=round(boot_s, 2),
                   shutdown_request_s=round(request_s, 2),
                   shutdown_gone_s=round(gone_s, 2))
    # The guest's kernel took the request and ran /sbin/poweroff (Xen PV
    # has no pm_power_off: the kernel halts, which Xen takes as poweroff).
    with open('/var/log/xen/console/guest-lcg.log') as f:
        log = f.read()
    assert 'reboot: System halted' in log or 'reboot: Power down' in log, (
        log[-2000:])


def test_linux_guest_save_and_restore(make_backend, cleanup, measure,
                                      tmp_path):
    backend = make_backend()
    cleanup.append('lsr')
    spec = base.DomainSpec(name='lsr', memory_mb=LINUX_MB, uuid=UUID)
    free0 = xenhost.free_mb()
    backend.create_domain(spec)
    assert booted(backend, 'lsr'), backend.console_output('lsr')
    saved = tmp_path / 'saved'
    saved.mkdir()
    path = str(saved / 'lsr.save')
    t0 = time.monotonic()
    backend.save_domain('lsr', path)
    save_s = time.monotonic() - t0
    assert 'lsr' not in xenhost.domains()
    assert xenhost.wait_for(lambda: xenhost.free_mb() >= free0 - 1, 30)
    size_mb = os.path.getsize(path) / 1048576.0
    t1 = time.monotonic()
    info = backend.restore_domain(spec, path)
    restore_s = time.monotonic() - t1
    assert (info.memory_mb, info.uuid) == (LINUX_MB, UUID)
    assert 'lsr' in xenhost.domains()
    # The restored guest runs on: not paused, crashed or shut down a
    # while later.
    time.sleep(5)
    flags = xenhost.domains()['lsr'][2]
    assert not set(flags) & set('pcsd'), flags
    backend.destroy_domain('lsr')
    measure.record('linux_save_restore', save_s=round(save_s, 2),
                   restore_s=round(restore_s, 2),
                   save_file_mb=round(size_mb, 1))


def test_pvgrub_never_takes_the_request(make_backend, cleanup, measure):
    # libxl waits 60 s for an acknowledgement pvgrub never gives; the
    # backend stops waiting after shutdown_timeout and the guest runs on.
    backend = make_backend(kernel=PVGRUB, ramdisk='', shutdown_timeout=5.0)
    cleanup.append('pgs')
    backend.create_domain(base.DomainSpec(name='pgs', memory_mb=64))
    t0 = time.monotonic()
    backend.shutdown_domain('pgs')
    took = time.monotonic() - t0
    assert 4.5 <= took < 20, took
    assert 'pgs' in xenhost.domains()
    backend.destroy_domain('pgs')
    measure.record('pvgrub_shutdown_ignored', shutdown_call_s=round(took, 2))


def test_host_uptime(make_backend):
    text = make_backend().host_uptime()
    assert ' up ' in text and 'load average: ' in text, text


# -- the driver's lifecycle calls, on real xl --------------------------------


@pytest.fixture
def linux_driver(conf, tmp_path):
    if 'xl' not in hypervisor.available():
        pytest.skip('the xl hypervisor backend is not installed')
    conf.flags(group='hypervisor', driver='xl')
    conf.flags(group='xl', guest_kernel=VMLINUZ, guest_ramdisk=INITRD,
               guest_image_dirs=['/guest'], command_timeout=60.0,
               create_timeout=180.0, destroy_timeout=120.0,
               save_timeout=300.0, shutdown_timeout=30.0)
    conf.flags(group='xenballoon', state_dir=str(tmp_path / 'state'),
               **options.DRIVER_OPTIONS)
    return driver_mod.XenBalloonDriver(conf).init_host()


def timed(fn, *args, **kwargs):
    t0 = time.monotonic()
    result = fn(*args, **kwargs)
    return result, round(time.monotonic() - t0, 2)


def test_driver_lifecycle(linux_driver, cleanup, measure):
    driver = linux_driver
    cleanup.append('ldg')
    figures = {}
    _, figures['spawn_s'] = timed(driver.spawn, 'ldg', LINUX_MB, uuid=UUID)
    assert booted(driver.backend, 'ldg')
    target = xenhost.dom0_target_mb()

    info, figures['pause_s'] = timed(driver.pause, 'ldg')
    assert info.state == 'paused' and info.memory_mb == LINUX_MB
    assert driver.unpause('ldg').state != 'paused'

    clean, figures['power_off_clean_s'] = timed(
        driver.power_off, 'ldg', timeout=90, retry_interval=15)
    assert clean is True
    assert 'ldg' not in xenhost.domains()
    assert [(g.name, g.state) for g in driver.list_guests()] == [
        ('ldg', 'shutoff')]
    assert xenhost.dom0_target_mb() == target   # not lent back to dom0

    info, figures['power_on_s'] = timed(driver.power_on, 'ldg')
    assert (info.state, info.uuid) == ('running', UUID)
    assert booted(driver.backend, 'ldg', boots=2)

    info, figures['reboot_soft_s'] = timed(driver.reboot, 'ldg',
                                           timeout=90, retry_interval=15)
    assert info.state == 'running'
    assert booted(driver.backend, 'ldg', boots=3)
    info, figures['reboot_hard_s'] = timed(driver.reboot, 'ldg', hard=True)
    assert info.state == 'running'
    assert booted(driver.backend, 'ldg', boots=4)

    info, figures['suspend_s'] = timed(driver.suspend, 'ldg')
    assert info.state == 'suspended' and 'ldg' not in xenhost.domains()
    info, figures['resume_s'] = timed(driver.resume, 'ldg')
    assert (info.state, info.memory_mb) == ('running', LINUX_MB)
    driver.destroy('ldg')
    assert 'ldg' not in xenhost.domains()
    measure.record('driver_lifecycle', **figures)
