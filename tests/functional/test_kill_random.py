"""kill -9 at random points of a flow, then recover.

DESIGN.md invariant 6, tried adversarially: instead of a few chosen
points, fault_runner.py counts every call into the backend, the ledger,
the ledger's storage and the flow persistence (both sides of each), and
the command dies at the N-th, N drawn at random over a dry run's count.
Spawns that succeed, spawns whose build fails (so the kill may land in
their reverts), destroys, and the lifecycle's stops (waiting for a clean
shutdown), starts, suspends and resumes take turns (kill_harness.KINDS).
After each kill, ``xenballoon recover`` runs in a new process, and then
the stored state must be consistent (kill_harness.consistency_problems:
a stopped guest has no domain and no flow's mark, its saved memory is on
disk) and commands must work (a stopped guest starts: its memory was
kept for it).

Also: a kill right after the flow's logbook appears, kills of ``recover``
itself while it recovers, and two concurrent spawns killed together.

Each case is a test item of its own, on SQLite, PostgreSQL and MariaDB
(a fresh database per server per worker, emptied between tests).

    XENBALLOON_KILL_POINTS   random points per database (default 40)
    XENBALLOON_KILL_SEED     replay a run: the seed a failure printed

tools/crash_soak.py runs the same cases with larger counts.
"""

import pytest

from tests.functional import kill_harness as kh


def check(zygote, conf, what, *killed):
    """Recover in a new process; assert the host is consistent."""
    result = zygote.run(conf, 'recover', '-f', 'json')
    problems, recovered = [], []
    if result.rc:
        problems.append('recover exits %d: %s' % (
            result.rc, result.stderr.strip().splitlines()[-1:]))
    else:
        recovered = result.json()
    problems = kh.consistency_problems(conf, recovered)
    problems += kh.still_works_problems(conf)
    for result in killed:
        if 'Traceback' in result.stderr:
            problems.append('a killed command printed a traceback')
    assert not problems, (
        '%s\nreplay: XENBALLOON_KILL_SEED=%d\n%s\nrecover: %s\n%s' % (
            what, kh.session_seed(), '\n'.join(problems), recovered,
            '\n'.join(str(r) for r in killed)))


@pytest.fixture
def zygote(tmp_path_factory):
    return kh.zygote(tmp_path_factory)


def _kind(index):
    return kh.KINDS[index % len(kh.KINDS)]


@pytest.mark.parametrize('index', range(kh.KILL_POINTS), ids=lambda i: (
    '%d_%s' % (i, _kind(i).replace('-', '_'))))
def test_random_kill(db_url, zygote, tmp_path, tmp_path_factory, request,
                     index):
    kind = _kind(index)
    total = kh.count_events(zygote, tmp_path_factory, kind)
    nth = kh.case_random(request.node.callspec.id).randint(1, total)
    conf = kh.new_host(tmp_path / 'host', db_url, kind)
    killed = zygote.run(conf, *kh.command(kind), point='nth:%d' % nth)
    check(zygote, conf, '%s killed at event %d of about %d' % (
        kind, nth, total), killed)


def test_kill_right_after_the_logbook_appears(db_url, zygote, tmp_path):
    conf = kh.new_host(tmp_path / 'host', db_url, 'spawn')
    killed = zygote.run(conf, *kh.command('spawn'), point='logbook-saved')
    assert killed.rc == -9, killed
    check(zygote, conf, 'spawn killed once its logbook was saved', killed)


@pytest.mark.parametrize('setup', sorted(kh.RECOVER_SETUPS))
def test_kill_recover_itself(db_url, zygote, tmp_path, tmp_path_factory,
                             request, setup):
    kind, point = kh.RECOVER_SETUPS[setup]
    total = kh.count_events(zygote, tmp_path_factory, ('recover', setup))
    # Not its last event: recover dies with work left.
    nth = kh.case_random(request.node.callspec.id).randint(
        1, max(1, total - 1))
    conf = kh.new_host(tmp_path / 'host', db_url, kind)
    first = zygote.run(conf, *kh.command(kind), point=point)
    assert first.rc == -9, first
    killed = zygote.run(conf, 'recover', point='nth:%d' % nth)
    check(zygote, conf, 'recover after %s killed at event %d of about %d'
          % (setup, nth, total), first, killed)


@pytest.mark.parametrize('index', range(2))
def test_two_spawns_killed_together(db_url, zygote, tmp_path,
                                    tmp_path_factory, request, index):
    total = kh.count_events(zygote, tmp_path_factory, 'spawn')
    nth = kh.case_random(request.node.callspec.id).randint(1, total)
    conf = kh.new_host(tmp_path / 'host', db_url, 'spawn')
    # vm2 kills the process group it shares with vm1 at its N-th event.
    first = zygote.start(conf, *kh.command('spawn', 'vm1'))
    second = zygote.start(conf, *kh.command('spawn', 'vm2'),
                          point='group:%d' % nth, pgid=first.pid)
    results = [first.wait(), second.wait()]
    check(zygote, conf, 'vm1 and vm2 killed together at vm2\'s event %d '
          'of about %d' % (nth, total), *results)
