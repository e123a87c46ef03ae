"""The two kinds of lock, and where their files are."""

import pytest

from xenballoon_driver import locks


def test_try_hold_raises_at_once_while_another_open_holds(tmp_path):
    path = locks.flow_path(str(tmp_path / 'locks'), 'f1')
    with locks.locked(path):
        # Even in this process: flock locks one open of the file.
        with pytest.raises(locks.Held):
            with locks.try_hold(path):
                pass
    with locks.try_hold(path):
        pass  # released when its holder closed it


def test_lock_files_keep_their_names(tmp_path):
    assert locks.ledger_path('/s') == '/s/xenballoon-ledger.lock'
    assert locks.write_path('/s/flows.sqlite') == (
        '/s/flows.sqlite.write-lock')
    assert locks.flow_path('/s/locks', 'ab') == '/s/locks/flow-ab.lock'
    assert locks.file_path('/s/host.json') == '/s/host.json.lock'
