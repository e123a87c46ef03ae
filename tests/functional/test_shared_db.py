"""Two hosts sharing one database: each recovers its own flows only.

Host A and host B (their own ``[xenballoon] host``, state dir and
simulated host) keep their flows in one PostgreSQL (or MariaDB) database.
Each kills a spawn of its own; B's ``recover`` runs while A's flow is
unfinished and must leave it exactly as stored (and A's ledger as it
was); then A's own ``recover`` completes or reverts it. Issue 9: B took
A's spawn and reverted it against B's hypervisor.

XENBALLOON_SHARED_CASES cases per database (default 4; A killed at a
named point, B at a random one).
"""

import contextlib
import json
import os

import pytest

from tests.functional import kill_harness as kh

# Named kill points that leave A's spawn flow unfinished.
UNFINISHED = ['reserve-after', 'balloon-after-target',
              'build-before-create', 'build-inside-create',
              'build-before-commit', 'build-after-commit']
CASES = int(os.environ.get('XENBALLOON_SHARED_CASES', '4'))


def stored_flows(conf, prefix):
    """{flow uuid: everything stored of it} for requests on ``prefix``."""
    drv = kh.driver(conf)
    flows = {}
    with contextlib.closing(drv.persistence.get_connection()) as conn:
        for book in conn.get_logbooks():
            for detail in book:
                if not book.name.split(' ', 1)[-1].startswith(prefix):
                    continue
                flows[detail.uuid] = json.dumps(
                    {'book': book.name, 'flow': detail.to_dict(),
                     'atoms': sorted((atom.to_dict() for atom in detail),
                                     key=lambda a: a['name'])},
                    sort_keys=True, default=str)
    return flows


def mine(prefix):
    return lambda request: request.split(' ', 1)[-1].startswith(prefix)


@pytest.mark.parametrize('index', range(CASES))
def test_hosts_sharing_a_database(server_url, tmp_path, tmp_path_factory,
                                  request, index):
    zygote = kh.zygote(tmp_path_factory)
    rng = kh.case_random(request.node.callspec.id)
    a = kh.new_host(tmp_path / 'a', server_url, 'spawn', host_name='host-a')
    b = kh.new_host(tmp_path / 'b', server_url, 'spawn', host_name='host-b')
    point = UNFINISHED[index % len(UNFINISHED)]
    if point == 'build-inside-create':
        # Frozen half-built (see test_crash_recovery.py).
        a = kh.write_host(tmp_path / 'a', server_url,
                          kh.small_scenario(populate_rate_mb_s=0.01),
                          host_name='host-a')
    nth = rng.randint(1, kh.count_events(zygote, tmp_path_factory, 'spawn'))
    killed_a = zygote.run(a, *kh.command('spawn', 'a-vm1'), point=point)
    assert killed_a.rc == -9, killed_a
    a_flows = stored_flows(a, 'a-')
    a_ledger = kh.driver(a).ledger.entries()
    unfinished = [f for f in kh.driver(a).list_flows()
                  if f.request == 'spawn a-vm1' and
                  f.state not in kh.FINISHED]
    assert unfinished, 'A was killed at %s: its flow must be unfinished' % (
        point)
    # Every command recovers first: B's spawn is B's first recovery.
    killed_b = zygote.run(b, *kh.command('spawn', 'b-vm1'),
                          point='nth:%d' % nth)

    problems = []
    rows_b = zygote.run(b, 'recover', '-f', 'json')
    if rows_b.rc:
        problems.append('B: recover exits %d: %s' % (
            rows_b.rc, rows_b.stderr.strip().splitlines()[-1:]))
    else:
        problems += ['B recovered A\'s %s' % r for r in rows_b.json()
                     if r['name'].split(' ', 1)[-1].startswith('a-')]
    if stored_flows(a, 'a-') != a_flows:
        problems.append('B\'s spawn and recover changed A\'s stored flows')
    if kh.driver(a).ledger.entries() != a_ledger:
        problems.append('B\'s spawn and recover changed A\'s ledger')
    problems += ['B: %s' % p for p in kh.consistency_problems(
        b, rows_b.json() if not rows_b.rc else (), mine=mine('b-'))]

    rows_a = zygote.run(a, 'recover', '-f', 'json')
    if rows_a.rc:
        problems.append('A: recover exits %d: %s' % (
            rows_a.rc, rows_a.stderr.strip().splitlines()[-1:]))
    else:
        outcomes = [r['outcome'] for r in rows_a.json()
                    if r['name'] == 'spawn a-vm1']
        if outcomes not in (['completed'], ['reverted']):
            problems.append('A\'s recover of its own flow: %s' % outcomes)
    problems += ['A: %s' % p for p in kh.consistency_problems(
        a, rows_a.json() if not rows_a.rc else (), mine=mine('a-'))]
    problems += ['B: %s' % p for p in kh.consistency_problems(
        b, mine=mine('b-'))]
    assert not problems, (
        'A killed at %s, B at event %d\nreplay: XENBALLOON_KILL_SEED=%d\n%s'
        '\n%s\n%s' % (point, nth, kh.session_seed(), '\n'.join(problems),
                      killed_a, killed_b))
