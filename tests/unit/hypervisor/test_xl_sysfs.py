"""dom0 read from its balloon driver's sysfs files instead of with xl."""

import logging

import pytest

from tests.fake_xl import harness
from xenballoon_driver import exception
from xenballoon_driver.hypervisor import base
from xenballoon_driver.hypervisor import xl
from xenballoon_driver.hypervisor import xl_sysfs


class Balloon:
    """A directory shaped like /sys/devices/system/xen_memory/xen_memory0."""

    def __init__(self, root, current_kb, target_kb):
        self.dir = root
        (root / 'info').mkdir(parents=True)
        self.write(current_kb, target_kb)

    def write(self, current_kb=None, target_kb=None):
        if current_kb is not None:
            (self.dir / 'info' / 'current_kb').write_text('%s\n' % current_kb)
        if target_kb is not None:
            (self.dir / 'target_kb').write_text('%s\n' % target_kb)


@pytest.fixture
def balloon(tmp_path):
    return Balloon(tmp_path / 'xen_memory0', 1536 * 1024, 1536 * 1024)


@pytest.fixture
def fake(tmp_path):
    return harness.FakeXl(tmp_path / 'fake')


@pytest.fixture
def backend(conf, fake, balloon):
    fake.configure(conf, dom0_balloon_dir=str(balloon.dir))
    return xl.XlHypervisor(conf)


def test_reads_whole_mib(balloon):
    balloon.write(current_kb=1179649, target_kb=1179649)
    # What dom0 holds rounds down, its target up: never more room than
    # there is.
    assert xl_sysfs.dom0_memory(str(balloon.dir)) == base.Dom0Memory(
        current_mb=1152, target_mb=1153)


@pytest.mark.parametrize('text', ['', 'abc', '-5', '1.5', '9' * 30])
def test_garbage_is_a_toolstack_error(balloon, text):
    balloon.write(target_kb=text)
    with pytest.raises(exception.ToolstackError) as err:
        xl_sysfs.dom0_memory(str(balloon.dir))
    assert 'target_kb' in err.value.message


def test_file_gone_is_a_toolstack_error(balloon):
    (balloon.dir / 'info' / 'current_kb').unlink()
    with pytest.raises(exception.ToolstackError) as err:
        xl_sysfs.dom0_memory(str(balloon.dir))
    assert 'current_kb' in err.value.message


def test_available(tmp_path, balloon):
    assert xl_sysfs.available(str(balloon.dir))
    assert not xl_sysfs.available('')
    assert not xl_sysfs.available(str(tmp_path / 'absent'))
    (tmp_path / 'empty').mkdir()
    assert not xl_sysfs.available(str(tmp_path / 'empty'))


def test_backend_reads_dom0_without_xl(backend, fake, balloon):
    # The first look checks the directory against xl, once.
    assert backend.dom0_memory() == base.Dom0Memory(1536, 1536)
    assert fake.calls() == [['list', '0'], ['list', '-l', '0']]
    balloon.write(current_kb=1400 * 1024, target_kb=1280 * 1024)
    assert backend.dom0_memory() == base.Dom0Memory(1400, 1280)
    snap = backend.snapshot()
    assert snap.dom0 == base.Dom0Memory(1400, 1280)
    # From then on one look is two forks of xl, not four.
    assert fake.calls()[2:] == [['list'], ['info']]
    assert backend.balloon_dir == str(balloon.dir)


def test_backend_without_the_files_uses_xl(conf, fake, tmp_path):
    fake.configure(conf, dom0_balloon_dir=str(tmp_path / 'absent'))
    backend = xl.XlHypervisor(conf)
    assert backend.dom0_memory() == base.Dom0Memory(1536, 1536)
    assert fake.calls() == [['list', '0'], ['list', '-l', '0']]


class WatchFires:
    """A clock under which sysfs shows the new target after a few polls.

    As the balloon driver's xenstore watch does.
    """

    def __init__(self, balloon, target_kb, after=3):
        self.t, self.balloon = 0.0, balloon
        self.target_kb, self.after = target_kb, after
        self.sleeps = 0

    def now(self):
        return self.t

    def sleep(self, seconds):
        self.t += seconds
        self.sleeps += 1
        if self.sleeps == self.after and self.target_kb is not None:
            # The fake host balloons in milliseconds: dom0 is there too.
            self.balloon.write(current_kb=self.target_kb,
                               target_kb=self.target_kb)


def test_set_target_waits_until_the_driver_shows_it(backend, fake, balloon):
    backend.clock = WatchFires(balloon, 1024 * 1024)
    backend.set_dom0_target(1024)
    assert fake.calls() == [['mem-set', '0', '1024m']]
    assert backend.clock.sleeps == 3
    assert backend.dom0_memory().target_mb == 1024
    assert backend.balloon_dir == str(balloon.dir)


def test_driver_that_never_follows_is_dropped(backend, fake, balloon,
                                              caplog):
    backend.clock = WatchFires(balloon, None)
    with caplog.at_level(logging.WARNING):
        backend.set_dom0_target(1024)
    assert 'does not follow xl mem-set' in caplog.text
    assert backend.clock.t >= xl.SYSFS_TARGET_WAIT_S
    assert backend.balloon_dir is None
    # From now on dom0 is xl's figure (the fake host did balloon).
    assert backend.dom0_memory().target_mb == 1024
    assert fake.calls()[-2:] == [['list', '0'], ['list', '-l', '0']]


# -- a directory that does not follow dom0 -------------------------------


def balloon_elsewhere(conf, fake, target_mb):
    """Another process (no sysfs view) moves dom0 behind our back."""
    fake.configure(conf, dom0_balloon_dir='')
    other = xl.XlHypervisor(conf)
    other.set_dom0_target(target_mb)
    assert other.dom0_memory() == base.Dom0Memory(target_mb, target_mb)


def test_stale_directory_is_not_trusted(conf, fake, balloon, caplog):
    # The directory still says 1536 MiB; dom0 is at 1024 (captures: at
    # rest xl and a live balloon directory agree to the KiB).
    balloon_elsewhere(conf, fake, 1024)
    fake.configure(conf, dom0_balloon_dir=str(balloon.dir))
    backend = xl.XlHypervisor(conf)
    with caplog.at_level(logging.WARNING):
        assert backend.dom0_memory() == base.Dom0Memory(1024, 1024)
        snap = backend.snapshot()
        backend.dom0_memory()
    warnings = [r for r in caplog.records if 'does not agree with xl' in
                r.getMessage()]
    assert len(warnings) == 1
    assert ('says dom0 holds 1536 MiB with a target of 1536 MiB, xl list 0 '
            '/ xl list -l 0 say 1024 MiB and 1024 MiB') in (
                warnings[0].getMessage())
    assert backend.balloon_dir is None
    # Host figures add up: what dom0 gave is free, counted once.
    assert snap.dom0 == base.Dom0Memory(1024, 1024)
    assert snap.host.free_mb + snap.dom0.current_mb + 23 == 2047
    assert fake.calls()[-2:] == [['list', '0'], ['list', '-l', '0']]


def test_stale_target_alone_is_caught(conf, fake, balloon):
    balloon_elsewhere(conf, fake, 1024)
    # dom0's size happens to match, its target does not.
    balloon.write(current_kb=1024 * 1024)
    fake.configure(conf, dom0_balloon_dir=str(balloon.dir))
    backend = xl.XlHypervisor(conf)
    assert backend.dom0_memory() == base.Dom0Memory(1024, 1024)
    assert backend.balloon_dir is None


@pytest.mark.parametrize('xl_mb, slack, trusted', [
    (1535, 0, True),         # between the two readings: xl read later
    (1527, 4, True),         # rounded down a little below them
    (1520, 4, False),        # far outside: not this dom0's balloon
    (1545, 4, False),
])
def test_check_allows_for_xls_lag(backend, conf, monkeypatch, xl_mb, slack,
                                  trusted):
    conf.flags(group='xl', sysfs_check_tolerance_mb=slack)
    readings = iter([base.Dom0Memory(1540, 1024),
                     base.Dom0Memory(1531, 1024)])
    monkeypatch.setattr(xl_sysfs, 'dom0_memory',
                        lambda directory: next(readings))
    monkeypatch.setattr(backend, '_dom0_from_xl',
                        lambda: base.Dom0Memory(xl_mb, 1024))
    seen = backend.dom0_memory()
    assert (backend.balloon_dir is not None) is trusted
    assert seen == (base.Dom0Memory(1531, 1024) if trusted else
                    base.Dom0Memory(xl_mb, 1024))


def test_sysfs_read_glitch_is_retried(backend, balloon, monkeypatch):
    from xenballoon_driver import clock as clock_mod
    backend.clock = clock_mod.VirtualClock()
    backend.dom0_memory()                       # checked, trusted
    real = xl_sysfs.dom0_memory
    fails = [exception.ToolstackError(call='read x', reason='EIO')]

    def flaky(directory):
        if fails:
            raise fails.pop()
        return real(directory)
    monkeypatch.setattr(xl_sysfs, 'dom0_memory', flaky)
    assert backend.dom0_memory() == base.Dom0Memory(1536, 1536)
    assert backend.clock.now() == backend.options.look_retry_interval


# -- the balloon's back-off and MemAvailable (balloon_state) -------------

# Captures a160_sysfs_balloon_all_final (Debian 12's dom0 kernel, at
# rest) and a044_proc_meminfo_after_memset.
A160 = {'schedule_delay': '1', 'max_schedule_delay': '20',
        'retry_count': '1', 'max_retry_count': '4'}
A044_MEMINFO = ('MemTotal:         895160 kB\nMemFree:          789152 kB\n'
                'MemAvailable:     781276 kB\nBuffers:               0 kB\n')


def write_backoff(balloon, **values):
    for name, text in dict(A160, **values).items():
        (balloon.dir / name).write_text('%s\n' % text)


@pytest.fixture
def meminfo(tmp_path):
    path = tmp_path / 'meminfo'
    path.write_text(A044_MEMINFO)
    return path


def test_balloon_state_as_captured(balloon, meminfo):
    write_backoff(balloon)
    assert xl_sysfs.balloon_state(str(balloon.dir), str(meminfo)) == (
        base.BalloonState(schedule_delay_s=1, max_schedule_delay_s=20,
                          retry_count=1, max_retry_count=4,
                          available_mb=781276 // 1024))


def test_balloon_state_in_back_off(balloon, meminfo):
    write_backoff(balloon, schedule_delay=8, retry_count=4)
    state = xl_sysfs.balloon_state(str(balloon.dir), str(meminfo))
    assert (state.schedule_delay_s, state.retry_count) == (8, 4)


def test_no_backoff_files_is_none(balloon, meminfo):
    # An older kernel: target_kb and current_kb only.
    assert xl_sysfs.balloon_state(str(balloon.dir), str(meminfo)) is None
    write_backoff(balloon)
    (balloon.dir / 'retry_count').unlink()
    assert xl_sysfs.balloon_state(str(balloon.dir), str(meminfo)) is None


def test_no_mem_available_is_unknown(balloon, tmp_path):
    write_backoff(balloon)
    state = xl_sysfs.balloon_state(str(balloon.dir), str(tmp_path / 'no'))
    assert state.available_mb is None and state.max_retry_count == 4
    old = tmp_path / 'old-meminfo'  # before Linux 3.14
    old.write_text('MemTotal:         895160 kB\nMemFree: 789152 kB\n')
    assert xl_sysfs.balloon_state(str(balloon.dir),
                                  str(old)).available_mb is None


@pytest.mark.parametrize('name, text', [
    ('schedule_delay', ''), ('schedule_delay', 'abc'),
    ('max_schedule_delay', '-1'), ('retry_count', '1.5'),
    ('max_retry_count', '9' * 30), ('schedule_delay', '0'),
    ('retry_count', '0')])
def test_odd_backoff_is_a_toolstack_error(balloon, meminfo, name, text):
    write_backoff(balloon, **{name: text})
    with pytest.raises(exception.ToolstackError) as err:
        xl_sysfs.balloon_state(str(balloon.dir), str(meminfo))
    assert 'read %s' % balloon.dir in err.value.message
    assert name in err.value.message


@pytest.mark.parametrize('line', [
    'MemAvailable: 12 MB', 'MemAvailable: -5 kB', 'MemAvailable:',
    'MemAvailable: 1.5 kB', 'MemAvailable: %s kB' % ('9' * 30)])
def test_odd_meminfo_is_a_toolstack_error(balloon, tmp_path, line):
    write_backoff(balloon)
    path = tmp_path / 'meminfo'
    path.write_text('MemTotal: 895160 kB\n%s\n' % line)
    with pytest.raises(exception.ToolstackError) as err:
        xl_sysfs.balloon_state(str(balloon.dir), str(path))
    assert 'MemAvailable' in err.value.message
    assert str(path) in err.value.message


def test_backend_balloon_state(backend, fake, balloon, meminfo):
    write_backoff(balloon, schedule_delay=4, retry_count=3)
    backend.meminfo_path = str(meminfo)
    state = backend.balloon_state()
    assert state == base.BalloonState(4, 20, 3, 4, 762)
    # The directory was checked against xl first, once.
    assert fake.calls() == [['list', '0'], ['list', '-l', '0']]
    backend.balloon_state()
    assert len(fake.calls()) == 2


def test_backend_without_the_directory_has_no_state(conf, fake, tmp_path):
    fake.configure(conf, dom0_balloon_dir=str(tmp_path / 'absent'))
    assert xl.XlHypervisor(conf).balloon_state() is None


def test_backend_with_a_stale_directory_has_no_state(conf, fake, balloon,
                                                     meminfo):
    write_backoff(balloon)
    balloon_elsewhere(conf, fake, 1024)
    fake.configure(conf, dom0_balloon_dir=str(balloon.dir))
    backend = xl.XlHypervisor(conf)
    backend.meminfo_path = str(meminfo)
    assert backend.balloon_state() is None
