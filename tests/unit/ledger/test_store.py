"""Where the ledger is kept: committed or not at all, shared by processes."""

import json
import multiprocessing
import signal
import sqlite3
import subprocess
import sys

import pytest

from tests.unit.ledger import test_ledger
from xenballoon_driver import exception


def storage_at(url, directory, host='host1'):
    return test_ledger.sql_storage(str(directory), host, url)


def sqlite_url(directory):
    return 'sqlite:///%s/flows.sqlite' % directory


def stored_doc(directory, host='host1'):
    """The ledger row as another program reading the file sees it."""
    with sqlite3.connect('%s/flows.sqlite' % directory) as db:
        row = db.execute('SELECT doc FROM xenballoon_ledger WHERE host = ?',
                         (host,)).fetchone()
    return json.loads(row[0]) if row else None


# -- every database kind --------------------------------------------------

def test_a_reservation_is_read_back_by_a_new_storage(db_url, tmp_path):
    ledger = test_ledger.make(storage_at(db_url, tmp_path))
    res = ledger.reserve(test_ledger.FakeHost(), 'a', 1000)
    again = test_ledger.make(storage_at(db_url, tmp_path))
    assert again.entries()[res.id]['need_mb'] == 1000
    again.release(res.id)
    assert ledger.entries() == {}


def test_an_error_under_the_lock_keeps_the_previous_state(db_url, tmp_path):
    storage = storage_at(db_url, tmp_path)
    with storage.locked() as state:
        state['baseline_mb'] = 1000
    with pytest.raises(RuntimeError):
        with storage.locked() as state:
            state['baseline_mb'] = 2000
            raise RuntimeError('failed half-way')
    with storage.snapshot() as state:
        assert state['baseline_mb'] == 1000


def test_hosts_have_one_document_each(db_url, tmp_path):
    one = test_ledger.make(storage_at(db_url, tmp_path, 'host1'))
    two = test_ledger.make(storage_at(db_url, tmp_path, 'host2'))
    one.reserve(test_ledger.FakeHost(), 'a', 1000)
    assert len(one.entries()) == 1 and two.entries() == {}


def _reserve_in_forked_child(ledger, queue):
    queue.put(ledger.reserve(test_ledger.FakeHost(), 'child', 1000).id)


def test_a_storage_made_before_a_fork_works_in_the_child(db_url, tmp_path):
    # A connection must not cross a fork: the child opens its own.
    ledger = test_ledger.make(storage_at(db_url, tmp_path))
    ledger.reserve(test_ledger.FakeHost(), 'parent', 1000)
    ctx = multiprocessing.get_context('fork')
    queue = ctx.Queue()
    child = ctx.Process(target=_reserve_in_forked_child,
                        args=(ledger, queue))
    child.start()
    child_id = queue.get(timeout=30)
    child.join(30)
    assert child.exitcode == 0
    assert sorted(e['name'] for e in ledger.entries().values()) == [
        'child', 'parent']
    assert child_id in ledger.entries()
    # And the parent's own connection still works after the child's exit.
    ledger.reserve(test_ledger.FakeHost(), 'after', 1000)
    assert len(ledger.entries()) == 3


def _reserve_same_name(url, directory, barrier, queue):
    ledger = test_ledger.make(storage_at(url, directory))
    barrier.wait(30)
    try:
        ledger.reserve(test_ledger.FakeHost(), 'twin', 1000)
        queue.put('ok')
    except exception.DomainExists:
        queue.put('exists')


def test_one_name_from_three_processes_at_once(db_url, tmp_path):
    # Room for all three: only the name refuses two of them.
    ctx = multiprocessing.get_context('fork')
    barrier, queue = ctx.Barrier(3), ctx.Queue()
    procs = [ctx.Process(target=_reserve_same_name,
                         args=(db_url, tmp_path, barrier, queue))
             for _ in range(3)]
    for proc in procs:
        proc.start()
    results = sorted(queue.get(timeout=30) for _ in procs)
    for proc in procs:
        proc.join(30)
    assert results == ['exists', 'exists', 'ok']
    entries = test_ledger.make(storage_at(db_url, tmp_path)).entries()
    assert [e['name'] for e in entries.values()] == ['twin']


# -- SQLite: the flows' file, through sqlite3 ----------------------------

def test_sqlite_ledger_lives_in_the_flows_file(tmp_path):
    ledger = test_ledger.make(storage_at(sqlite_url(tmp_path), tmp_path))
    res = ledger.reserve(test_ledger.FakeHost(), 'a', 1000)
    assert stored_doc(tmp_path)['entries'][res.id]['name'] == 'a'
    with sqlite3.connect('%s/flows.sqlite' % tmp_path) as db:
        assert db.execute('PRAGMA journal_mode').fetchone() == ('wal',)


def test_reading_under_the_lock_commits_nothing(tmp_path):
    ledger = test_ledger.make(storage_at(sqlite_url(tmp_path), tmp_path))
    host = test_ledger.FakeHost()
    ledger.reserve(host, 'a', 1000)
    observer = sqlite3.connect('%s/flows.sqlite' % tmp_path)
    # data_version changes when any other connection commits.
    version = observer.execute('PRAGMA data_version').fetchone()
    ledger.apply_target(host)
    ledger.figures(host)
    ledger.commit('no-such-reservation')
    assert observer.execute('PRAGMA data_version').fetchone() == version
    ledger.reserve(host, 'b', 1000)
    assert observer.execute('PRAGMA data_version').fetchone() != version
    observer.close()


# A child that counts under the lock and says each committed value; with
# HOLD it then changes the count and blocks inside the lock, uncommitted.
COUNTER = '''
import sys
from xenballoon_driver import ledger
from xenballoon_driver import locks
from xenballoon_driver import persistence
storage = ledger.DocumentStorage(persistence.open_url(sys.argv[1]).documents,
                                 'host1', locks.ledger_path(sys.argv[2]))
for _ in range(int(sys.argv[3])):
    with storage.locked() as state:
        state['baseline_mb'] = (state['baseline_mb'] or 0) + 1
    print(state['baseline_mb'], flush=True)
if sys.argv[4] == 'HOLD':
    with storage.locked() as state:
        state['baseline_mb'] = -1
        print('holding', flush=True)
        sys.stdin.read()
'''


def counter(tmp_path, count, hold):
    return subprocess.Popen(
        [sys.executable, '-c', COUNTER, sqlite_url(tmp_path), str(tmp_path),
         str(count), 'HOLD' if hold else 'RUN'],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def test_kill_9_between_commits_keeps_the_last_commit(tmp_path):
    proc = counter(tmp_path, 100000, hold=False)
    said = [int(proc.stdout.readline()) for _ in range(50)]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    said += [int(word) for word in proc.stdout.read().split()]
    # Committed and said, or committed and killed before saying it: never
    # a torn document, never a lost commit.
    assert stored_doc(tmp_path)['baseline_mb'] in (said[-1], said[-1] + 1)
    # The lock died with the process: the next writer goes on.
    storage = storage_at(sqlite_url(tmp_path), tmp_path)
    with storage.locked() as state:
        state['baseline_mb'] += 1
    assert stored_doc(tmp_path)['baseline_mb'] == state['baseline_mb']


def test_kill_9_inside_the_lock_keeps_the_previous_document(tmp_path):
    proc = counter(tmp_path, 3, hold=True)
    lines = [proc.stdout.readline().strip() for _ in range(4)]
    assert lines == ['1', '2', '3', 'holding']
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert stored_doc(tmp_path)['baseline_mb'] == 3
    with storage_at(sqlite_url(tmp_path), tmp_path).locked() as state:
        assert state['baseline_mb'] == 3
