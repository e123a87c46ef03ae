#!/usr/bin/env python3
"""Scale run of the jobboard: conductors, Redis or etcd, PostgreSQL for real.

What ``tox -e scale`` runs (issue 14). Needs PostgreSQL on 127.0.0.1
(user postgres, trust) and a redis-server binary: it starts a private
redis-server (port 6391, append-only file in a scratch dir) so that it
may restart it, the machine's Redis being a shared service; with
``--backend etcd``, a private etcd instead (free ports, scratch data dir:
tests/etcd_server.py; apt-get install etcd-server). Simulated
hosts run on the scaled clock (time_scale 100), each with its own state
dir and board, their flows in one scratch PostgreSQL database. In turn:

1. overhead: one host, one conductor; spawns one at a time through the
   board (post, wait for the result) against the same spawns run by the
   driver in-process on a twin host: the board's cost per spawn;
2. throughput: JOBS spawns posted at once to 1 host / 1 conductor, then
   to 4 hosts / 4 conductors through the reference scheduler: jobs/s;
3. disturbed: 4 hosts, 4 conductors; one big spawn on host 0 whose
   conductor is killed (-9) in the middle of its balloon wait; JOBS
   spawns posted by the reference scheduler; the killed conductor
   started again; then Redis (or etcd) is restarted under the
   conductors;
4. burst: 4 small hosts (64 GiB), no conductor running: one place()
   call per guest until the hosts are full (each call sees the jobs of
   the earlier ones on the boards), one more refused (NoValidHost);
   then the conductors: none refused for memory, no host beyond what it
   held.

Checks, every run: 0 jobs lost (every flow finished, every board
empty), 0 run twice (no flow started as new by two conductors), 0 MiB
lost (ledger + guests + Xen <= total in every sample; the ledger
consistent at the end).

Prints the figures; exits 1 if a check fails.

    python tools/bench_jobboard.py [--jobs N] [--json FILE]
                                   [--backend redis|etcd] [--skip-missing]
"""

import argparse
import contextlib
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from tests import conftest as top  # noqa: E402
from tests import etcd_server  # noqa: E402
from tests.functional import jobboard_harness as jh  # noqa: E402
from tests.functional import kill_harness as kh  # noqa: E402
from xenballoon_driver import exception  # noqa: E402
from xenballoon_driver.hypervisor import base  # noqa: E402
from xenballoon_driver.jobboard import posting  # noqa: E402
from xenballoon_driver.scheduler import manager  # noqa: E402

GiB = 1024
PORT = 6391
TIME_SCALE = 100
# 1 TiB hosts, dom0 at 1016 GiB: room for 300 guests of 3 GiB (one host
# takes every job of a run), each ballooning dom0 at 1 GiB/s (3 s
# simulated, 30 ms at time_scale 100).
SCENARIO = {
    'host': {'total_mb': 1024 * GiB, 'dom0_mb': 1016 * GiB,
             'dom0_low_mb': 1024, 'xen_mb': 0},
    'balloon': {'release_rate_mb_s': 1024},
    'build': {'populate_rate_mb_s': 8192},
}
GUEST_MB = 3 * GiB
DOWN_S = 8
BIG_MB = 40 * GiB
# The burst's hosts: 64 GiB each, about 20 guests of GUEST_MB.
BURST_SCENARIO = dict(SCENARIO, host={
    'total_mb': 64 * GiB, 'dom0_mb': 60 * GiB, 'dom0_low_mb': 1024,
    'xen_mb': 0})


class PrivateRedis:
    """redis-server on PORT, its append-only file kept across restarts."""

    def __init__(self, root):
        self.dir = root / 'redis'
        self.dir.mkdir()
        self.proc = None
        self.url = 'redis://127.0.0.1:%d' % PORT

    def start(self):
        self.proc = subprocess.Popen(
            ['redis-server', '--port', str(PORT), '--bind', '127.0.0.1',
             '--dir', str(self.dir), '--save', '', '--appendonly', 'yes',
             '--appendfsync', 'always'],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while jh.redis_problem(self.url):
            if time.monotonic() > deadline:
                raise RuntimeError(jh.redis_problem(self.url))
            time.sleep(0.05)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: redis writes its AOF, exits
            self.proc.wait(30)


class Fleet:
    """Hosts host-0..n-1 under ``root``, a conductor each."""

    def __init__(self, root, db_url, board, count, tag,
                 scenario=SCENARIO):
        prefix = jh.board_prefix()
        self.confs = [jh.write_host(
            root / ('%s-%d' % (tag, i)), db_url, prefix,
            '%s-%d' % (tag, i), scenario=scenario, time_scale=TIME_SCALE,
            claim_expiry_s=3, **board) for i in range(count)]
        self.drivers = [kh.driver(c) for c in self.confs]
        self.conductors = [jh.Conductor(c, root / ('%s-%d.log' % (tag, i)))
                           for i, c in enumerate(self.confs)]
        self.flows = {d.host: [] for d in self.drivers}

    def start(self):
        for conductor in self.conductors:
            conductor.start()

    def stop(self):
        return [c.stop() for c in self.conductors]

    def hosts(self):
        return [(d, self.flows[d.host]) for d in self.drivers]

    def schedule(self, count, name):
        """Post ``count`` spawns through the reference scheduler."""
        sched = manager.Scheduler(self.drivers[0].conf)
        by_host = {d.host: d for d in self.drivers}
        try:
            # One request of ``count`` instances (as in earlier runs, so
            # figures compare); burst() makes one place() call per guest.
            for pick, (_job, flow_id) in sched.place(
                    base.DomainSpec(name, GUEST_MB), by_host, count):
                self.flows[pick.host].append(flow_id)
        finally:
            sched.close()

    def problems(self, samples, may_revert=()):
        """What went wrong; every flow but ``may_revert`` must succeed."""
        found = list(samples)
        counts = jh.run_counts(*self.conductors)
        for conf, drv in zip(self.confs, self.drivers):
            ids = self.flows[drv.host]
            found += ['%s: flow %s is %s' % (drv.host, f, s) for f, s in
                      jh.flow_states(drv, ids).items()
                      if s != 'SUCCESS' and not (
                          f in may_revert and s == 'REVERTED')]
            found += ['%s: flow %s started %d times as new' % (
                drv.host, f, counts[f]) for f in ids if counts[f] > 1]
            found += ['%s: %s' % (drv.host, p)
                      for p in kh.consistency_problems(conf)]
        return found


def overhead(root, db_url, board, count):
    """(mean s per spawn through the board, mean s in-process).

    Alternated, one of each in turn, so that the machine's load drifts
    the same for both.
    """
    fleet = Fleet(root, db_url, board, 1, 'ovh')
    twin = kh.driver(jh.write_host(root / 'twin', db_url, 'twin', 'twin',
                                   scenario=SCENARIO,
                                   time_scale=TIME_SCALE))
    fleet.start()
    board_s = direct_s = 0.0
    try:
        drv = fleet.drivers[0]
        for i in range(count):
            start = time.monotonic()
            flow_id, = jh.post_spawns(drv, [('o%d' % i, GUEST_MB)])
            posting.wait(drv, flow_id, 0.01)
            board_s += time.monotonic() - start
            start = time.monotonic()
            twin.spawn('t%d' % i, GUEST_MB)
            direct_s += time.monotonic() - start
    finally:
        fleet.stop()
    return board_s / count, direct_s / count


def throughput(root, db_url, board, hosts, jobs):
    fleet = Fleet(root, db_url, board, hosts, 'tp%d' % hosts)
    fleet.start()
    try:
        start = time.monotonic()
        fleet.schedule(jobs, 'g')
        figures = {d.host: len(ids) for d, ids in fleet.hosts()}
        samples = jh.wait_finished(fleet.hosts(), timeout=600)
        rate = jobs / (time.monotonic() - start)
    finally:
        fleet.stop()
    return rate, figures, fleet.problems(samples)


def disturbed(root, db_url, server, board, jobs):
    fleet = Fleet(root, db_url, board, 4, 'dist')
    fleet.start()
    figures = {}
    try:
        start = time.monotonic()
        drv0 = fleet.drivers[0]
        big, = jh.post_spawns(drv0, [('big', BIG_MB)])
        fleet.flows[drv0.host].append(big)
        killed, (released, asked) = jh.kill_in_balloon_wait(
            fleet.conductors[0], drv0, [big], 0.4, timeout=300)
        figures['killed_at_mb'] = [released, asked]
        # Its claim holds until it lapses; the scheduler's jobs queue
        # behind it on host 0's board meanwhile.
        fleet.schedule(jobs, 'd')
        fleet.conductors[0].start()
        time.sleep(1.0)  # let the fleet run into the server's restart
        server.stop()
        figures['finished_when_board_stopped'] = sum(
            1 for drv, ids in fleet.hosts()
            for state in jh.flow_states(drv, ids).values()
            if state in kh.FINISHED)
        # Longer than redis-py's own retries and the claims' expiry.
        time.sleep(DOWN_S)
        server.start()
        samples = jh.wait_finished(fleet.hosts(), timeout=600)
        figures['jobs_per_s'] = (jobs + 1) / (time.monotonic() - start)
    finally:
        figures['conductor_exits'] = fleet.stop()
    # Evidence that the conductors met the restart and got over it.
    figures['board_failures_logged'] = sum(
        c.log().count(words) for c in fleet.conductors
        for words in jh.BOARD_TROUBLE)
    # The killed spawn is finished or reverted, as its point allows.
    problems = fleet.problems(samples, may_revert={killed})
    figures['killed_flow'] = jh.flow_states(drv0, [killed])[killed]
    return figures, problems


def burst(root, db_url, board):
    """place() per guest, no conductor running, until the hosts are full.

    Then the conductors run them all. Figures: calls, seconds per call,
    whether one more was refused, guests beyond a host's room, spawns
    refused for memory (reverted).
    """
    fleet = Fleet(root, db_url, board, 4, 'burst',
                  scenario=BURST_SCENARIO)
    need = base.DomainSpec('x', GUEST_MB).footprint_mb
    room = {d.host: d.get_available_resource()['xenballoon'][
        'available_mb'] // need for d in fleet.drivers}
    by_host = {d.host: d for d in fleet.drivers}
    sched = manager.Scheduler(fleet.drivers[0].conf)
    figures = {'room': sum(room.values())}
    try:
        start = time.monotonic()
        for i in range(figures['room']):
            (pick, (_job, flow_id)), = sched.place(
                base.DomainSpec('b%d' % i, GUEST_MB), by_host)
            fleet.flows[pick.host].append(flow_id)
        figures['place_s'] = (time.monotonic() - start) / figures['room']
        try:
            sched.place(base.DomainSpec('over', GUEST_MB), by_host)
            figures['one_more_refused'] = False
        except exception.NoValidHost:
            figures['one_more_refused'] = True
    finally:
        sched.close()
    fleet.start()
    try:
        samples = jh.wait_finished(fleet.hosts(), timeout=600)
    finally:
        fleet.stop()
    figures['beyond_room'] = sum(max(0, len(ids) - room[host])
                                 for host, ids in fleet.flows.items())
    figures['refused_nomem'] = sum(
        1 for drv, ids in fleet.hosts()
        for state in jh.flow_states(drv, ids).values()
        if state == 'REVERTED')
    problems = fleet.problems(samples)
    if not figures['one_more_refused']:
        problems.append('burst: a guest past the hosts\' room was placed')
    if figures['beyond_room']:
        problems.append('burst: %d guest(s) beyond a host\'s room'
                        % figures['beyond_room'])
    return figures, problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--jobs', type=int, default=200)
    parser.add_argument('--overhead-spawns', type=int, default=20)
    parser.add_argument('--json')
    parser.add_argument('--backend', choices=('redis', 'etcd'),
                        default='redis', help='the board (default: redis)')
    parser.add_argument('--skip-missing', action='store_true',
                        help='exit 0, saying why, without the board\'s '
                             'server binary or PostgreSQL (tox -e bench)')
    args = parser.parse_args()
    missing = None
    if args.backend == 'etcd':
        missing = etcd_server.problem()
    elif shutil.which('redis-server') is None:
        missing = 'no redis-server binary (apt-get install redis-server)'
    root = pathlib.Path(tempfile.mkdtemp(prefix='xb-scale-'))
    if args.backend == 'etcd':
        (root / 'etcd').mkdir()
        server = etcd_server.Server(str(root / 'etcd'))
    else:
        server = PrivateRedis(root)
    board = {'backend': args.backend, 'board_url': server.url}
    out = {}
    with contextlib.ExitStack() as stack:
        try:
            if missing:
                raise RuntimeError(missing)
            db_url = stack.enter_context(top.scratch_database('postgresql'))
        except (RuntimeError, pytest.skip.Exception) as err:
            print('bench_jobboard: skipped: %s' % err)
            shutil.rmtree(root, ignore_errors=True)
            return 0 if args.skip_missing else 1
        server.start()
        stack.callback(server.stop)
        board_s, direct_s = overhead(root, db_url, board,
                                     args.overhead_spawns)
        out['overhead'] = {'board_s': board_s, 'in_process_s': direct_s,
                           'jobboard_s': board_s - direct_s}
        print('spawn through the board %.3f s, in-process %.3f s: '
              'jobboard overhead %.3f s per spawn' % (
                  board_s, direct_s, board_s - direct_s))
        problems = []
        for hosts in (1, 4):
            rate, spread, found = throughput(root, db_url, board,
                                             hosts, args.jobs)
            out['jobs_per_s_%d' % hosts] = rate
            problems += found
            print('%d conductor(s), %d host(s), %d jobs: %.1f jobs/s '
                  '(jobs per host: %s)' % (hosts, hosts, args.jobs, rate,
                                           sorted(spread.values())))
        figures, found = disturbed(root, db_url, server, board,
                                   args.jobs)
        out['disturbed'] = figures
        problems += found
        print('disturbed: kill -9 in a balloon wait at %s MiB (the flow '
              'then %s); %s '
              'down %d s when %d of %d jobs had finished (%d failures '
              'logged by the conductors); %.1f jobs/s' % (
                  figures['killed_at_mb'], figures['killed_flow'],
                  args.backend, DOWN_S,
                  figures['finished_when_board_stopped'], args.jobs + 1,
                  figures['board_failures_logged'], figures['jobs_per_s']))
        figures, found = burst(root, db_url, board)
        out['burst'] = figures
        problems += found
        print('burst: %d place() calls with no conductor running, %.3f s '
              'each; one more refused: %s; beyond a host\'s room: %d; '
              'spawns refused for memory: %d' % (
                  figures['room'], figures['place_s'],
                  figures['one_more_refused'], figures['beyond_room'],
                  figures['refused_nomem']))
    out['problems'] = problems
    print('problems: %d' % len(problems))
    for problem in problems[:20]:
        print('  ' + problem)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(out, f, indent=2)
    if not problems:
        shutil.rmtree(root, ignore_errors=True)
    else:
        print('kept: %s' % root)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
