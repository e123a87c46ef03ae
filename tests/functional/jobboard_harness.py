"""What the jobboard tests and tools/bench_jobboard.py share.

Simulated hosts whose config enables the jobboard (a board name of their
own on the given Redis or etcd, flows in the given database), conductor
processes started and killed, and the checks: every posted flow
finished, none run twice, every host's memory accounted for.
"""

import collections
import os
import re
import signal
import subprocess
import sys
import time
import uuid

from taskflow import states

from tests.functional import kill_harness as kh
from xenballoon_driver.flows import listing
from xenballoon_driver.flows import spawn as spawn_flow
from xenballoon_driver.jobboard import board as board_mod
from xenballoon_driver.jobboard import posting

REDIS_URL = os.environ.get('XENBALLOON_REDIS_URL', 'redis://127.0.0.1:6379')
CONDUCTOR = (sys.executable, '-m', 'xenballoon_driver.cmd.conductor', '-v')
# What a conductor logs when its board's server is away: taskflow's
# loop, and ours refreshing a claim.
BOARD_TROUBLE = ('Transient job board failure', 'cannot refresh its claim',
                 'its claim was lost', 'Failed job')
NEW_RE = re.compile(r'Job \S+: running flow (\w+) as new')
READY = 'xenballoon-conductor: serving board'


def redis_problem(url=REDIS_URL):
    """None if a Redis server answers at ``url``; else why not."""
    import redis
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as err:  # no server, refused: say which
        return 'Redis not usable at %s: %s' % (url, err)
    return None


def write_host(root, db_url, prefix, host_name, scenario=None,
               time_scale=10, claim_expiry_s=2, board_url=REDIS_URL,
               backend='redis'):
    """A jobboard-enabled simulated host; its config file's path."""
    conf = kh.write_host(root, db_url, scenario or kh.small_scenario(),
                         host_name=host_name, time_scale=time_scale)
    with open(conf, 'a') as out:
        out.write('[jobboard]\nenabled = true\nbackend = %s\nurl = %s\n'
                  'board_name = %s-{host}\nclaim_expiry_s = %s\n'
                  'poll_interval_s = 0.05\n'
                  % (backend, board_url, prefix, claim_expiry_s))
    return conf


def board_prefix():
    return 'xbtest-%s' % uuid.uuid4().hex[:10]


class Conductor:
    """One xenballoon-conductor process, its stderr in a file."""

    def __init__(self, conf, log_path):
        self.conf, self.log_path = conf, str(log_path)
        self.proc = None

    def start(self, timeout=60):
        # A restart appends to the log: look for READY after what is there.
        seen = len(self.log()) if os.path.exists(self.log_path) else 0
        with open(self.log_path, 'a') as log:
            self.proc = subprocess.Popen(
                CONDUCTOR + ('--config-file', self.conf), stderr=log,
                stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while READY not in self.log()[seen:]:
            if self.proc.poll() is not None:
                raise AssertionError('conductor exited %s:\n%s' % (
                    self.proc.returncode, self.log()))
            if time.monotonic() > deadline:
                raise AssertionError('conductor not ready:\n' + self.log())
            time.sleep(0.05)
        return self

    def log(self):
        with open(self.log_path) as log:
            return log.read()

    def kill9(self):
        self.proc.kill()
        self.proc.wait(30)

    def stop(self, timeout=60):
        """SIGTERM; the exit code (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
                return None
        return self.proc.returncode


def post_spawns(drv, specs):
    """Post a spawn per (name, memory_mb) on drv's host: [flow_id]."""
    with board_mod.connected(drv.conf, drv.host, drv.persistence) as board:
        return [posting.post_spawn(drv, board, posting.spawn_spec(
            name, memory_mb))[1] for name, memory_mb in specs]


def flow_states(drv, flow_ids):
    out = {}
    for flow_id in flow_ids:
        detail = posting.stored(drv.persistence, flow_id)
        out[flow_id] = listing.state(detail) if detail else 'GONE'
    return out


def jobs_left(drv):
    with board_mod.connected(drv.conf, drv.host, drv.persistence) as board:
        return board.job_count


def waiting_flow(drv, flow_ids):
    """The id of a flow of these whose balloon wait runs now, or None."""
    for flow_id in flow_ids:
        detail = posting.stored(drv.persistence, flow_id)
        if detail is None:
            continue
        atom = next((a for a in detail if a.name == spawn_flow.WAIT), None)
        if atom is not None and atom.state == states.RUNNING:
            return flow_id
    return None


def kill_in_balloon_wait(conductor, drv, flow_ids, fraction, timeout=60):
    """kill -9 ``conductor`` once dom0 gave ``fraction`` of a wait's MiB.

    Returns (flow id, MiB released of MiB asked) when killed inside a
    balloon wait; raises AssertionError if none was caught in time.
    """
    deadline = time.monotonic() + timeout
    flow_id = None
    while flow_id is None:
        flow_id = waiting_flow(drv, flow_ids)
        if time.monotonic() > deadline:
            raise AssertionError('no balloon wait seen')
        time.sleep(0.01)
    dom0 = drv.backend.dom0_memory()
    start, target = dom0.current_mb, dom0.target_mb
    while True:
        current = drv.backend.dom0_memory().current_mb
        if start - current >= fraction * (start - target):
            conductor.kill9()
            break
        if time.monotonic() > deadline:
            raise AssertionError('balloon wait did not progress')
        time.sleep(0.005)
    if waiting_flow(drv, [flow_id]) != flow_id:
        raise AssertionError('the wait of %s ended before the kill' % flow_id)
    return flow_id, (start - current, start - target)


def run_counts(*conductors):
    """{flow id: times a conductor started it as a new flow}."""
    counts = collections.Counter()
    for conductor in conductors:
        counts.update(NEW_RE.findall(conductor.log()))
    return counts


def memory_problems(drv):
    """ledger + guests + Xen > total on drv's host, read now."""
    used, total, unknown = kh.host_sample(drv)
    if used <= total + 1e-6:
        return []
    entries = drv.ledger.entries().values()
    return ['%s: ledger + guests + Xen = %.0f MiB > total %.0f MiB '
            '(entries %s, unknown domains %s)' % (
                drv.host, used, total,
                {e['name']: (e['state'], e['need_mb'], e['from_dom0_mb'])
                 for e in entries}, unknown)]


def wait_finished(hosts, timeout):
    """Until every host's flows finished and its board is empty.

    ``hosts``: [(driver, flow ids)]. Samples each host's memory on every
    round: returns the list of problems seen (empty: all well).
    """
    problems = []
    deadline = time.monotonic() + timeout
    while True:
        for drv, _ids in hosts:
            problems += memory_problems(drv)
        pending = [(drv.host, fid, state) for drv, ids in hosts
                   for fid, state in flow_states(drv, ids).items()
                   if state not in kh.FINISHED]
        if not pending and not any(jobs_left(drv) for drv, _ in hosts):
            return problems
        if time.monotonic() > deadline:
            return problems + ['after %d s: unfinished %s, jobs left %s' % (
                timeout, pending[:5], {drv.host: jobs_left(drv)
                                       for drv, _ in hosts})]
        time.sleep(0.1)
