"""The state directory's faults found before anything is stored."""

import errno
import os

import pytest

from xenballoon_driver.cmd import state_dir
from xenballoon_driver import exception


@pytest.fixture
def state(conf, tmp_path):
    path = tmp_path / 'state'
    path.mkdir()
    (path / 'xenballoon-ledger.lock').write_text('')
    (path / 'locks').mkdir()
    return path


def _refused(conf):
    with pytest.raises(exception.StorageError) as err:
        state_dir.check(conf)
    assert err.value.exit_code == exception.EXIT_STORAGE
    return str(err.value)


def test_a_healthy_or_missing_state_dir_passes(conf, state, tmp_path):
    assert state_dir.check(conf) is None
    conf.flags('xenballoon', state_dir=str(tmp_path / 'not-yet'))
    assert state_dir.check(conf) is None


def test_a_lock_file_that_is_a_directory(conf, state):
    (state / 'flows.sqlite.write-lock').mkdir()
    message = _refused(conf)
    assert 'flows.sqlite.write-lock: Is a directory (EISDIR)' in message


def test_a_file_where_a_directory_belongs(conf, state, tmp_path):
    (state / 'locks').rmdir()
    (state / 'locks').write_text('x')
    assert '%s: Not a directory (ENOTDIR)' % (state / 'locks') in (
        _refused(conf))
    conf.flags('xenballoon', state_dir=str(state / 'xenballoon-ledger.lock'))
    assert 'a file is where a directory belongs' in _refused(conf)


def test_a_full_disk(conf, state, monkeypatch):
    real = os.statvfs

    def full(path):
        result = real(path)
        return os.statvfs_result((result.f_bsize, result.f_frsize,
                                  result.f_blocks, 0, 0) + tuple(result)[5:])

    monkeypatch.setattr(state_dir.os, 'statvfs', full)
    message = _refused(conf)
    assert 'No space left on device (ENOSPC)' in message
    assert str(state) in message


def test_unwritable(conf, state, monkeypatch):
    monkeypatch.setattr(state_dir.os, 'access', lambda path, mode: False)
    message = _refused(conf)
    assert errno.errorcode[errno.EACCES] in message or 'EROFS' in message
