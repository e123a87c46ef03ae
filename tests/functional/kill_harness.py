"""What the kill tests share: commands that die where told, and the checks.

Commands run in children forked by one ``fault_runner.py serve`` process
per test worker (Zygote): each is a process of its own, killed as one,
but starts without paying Python's imports again (two seconds on a busy
machine; the kill tests run several hundred commands).

``consistency_problems`` states DESIGN.md invariant 6 on what is stored,
as a list of sentences (empty: consistent), so that a failure shows
every inconsistency at once, with the case's seed.
"""

import atexit
import contextlib
import itertools
import json
import os
import random
import subprocess
import sys
import threading

import yaml

from tests.functional import base
from xenballoon_driver.cmd import base as cmd_base
from xenballoon_driver import driver as driver_mod
from xenballoon_driver import exception

HERE = os.path.dirname(__file__)
RUNNER = os.path.join(HERE, 'fault_runner.py')
GiB = 1024
FINISHED = ('SUCCESS', 'REVERTED')
# Seconds a command may take before the test gives up on it.
TIMEOUT_S = 120

# How many random kill points per database (test items) test_kill_random
# tries; tools/crash_soak.py sets it higher.
KILL_POINTS = int(os.environ.get('XENBALLOON_KILL_POINTS', '40'))


def session_seed():
    """XENBALLOON_KILL_SEED, or one drawn now (printed with failures)."""
    seed = os.environ.get('XENBALLOON_KILL_SEED')
    if seed is None:
        seed = os.environ['XENBALLOON_KILL_SEED'] = str(
            random.SystemRandom().randrange(10 ** 9))
    return int(seed)


def case_random(*key):
    """A Random for one case: the session seed and the case's name."""
    return random.Random('%d-%s' % (session_seed(), '-'.join(
        str(k) for k in key)))


class Result:
    """What one command did: exit code, stdout, stderr."""

    def __init__(self, argv, rc, stdout, stderr):
        self.argv, self.rc, self.stdout, self.stderr = argv, rc, stdout, stderr

    def json(self):
        assert self.rc == 0, str(self)
        return json.loads(self.stdout)

    def __repr__(self):
        return 'xenballoon %r -> exit %s\nstdout:\n%s\nstderr:\n%s' % (
            self.argv, self.rc, self.stdout, self.stderr)


class Job:
    """One command forked by the zygote."""

    def __init__(self, argv, out, err):
        self.argv, self.out, self.err = argv, out, err
        self.pid = None
        self.rc = None
        self.started = threading.Event()
        self.done = threading.Event()

    def wait(self, timeout=TIMEOUT_S):
        if not self.done.wait(timeout):
            self.kill()
            self.done.wait(10)
            raise AssertionError('xenballoon %r still running after %d s' % (
                self.argv, timeout))
        with open(self.out) as out, open(self.err) as err:
            return Result(self.argv, self.rc, out.read(), err.read())

    def kill(self):
        self.started.wait(TIMEOUT_S)
        if not self.done.is_set():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, 9)


class Zygote:
    """``fault_runner.py serve``: forks a command per request."""

    def __init__(self, scratch):
        self.scratch = scratch
        os.makedirs(scratch, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, RUNNER, 'serve'], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, bufsize=1)
        first = self.proc.stdout.readline()
        assert json.loads(first) == {'ready': True}, first
        self.jobs = {}
        self.ids = itertools.count()
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            msg = json.loads(line)
            job = self.jobs[msg['id']]
            if 'pid' in msg:
                job.pid = msg['pid']
                job.started.set()
            else:
                job.rc = msg['rc']
                job.done.set()

    def start(self, conf, *args, point='none', pgid=0):
        """Fork ``xenballoon --config-file conf args``; returns its Job.

        ``pgid``: 0 puts it in a process group of its own; a pid puts it
        in that process's group (``group:N`` points kill the whole group).
        """
        return self.start_argv(
            ['--config-file', str(conf)] + [str(a) for a in args],
            point=point, pgid=pgid)

    def start_argv(self, argv, point='none', pgid=0, measure=False):
        """Fork ``xenballoon argv`` (config files included); its Job.

        ``measure``: under coverage, the child's run is measured (as the
        CLI's subprocesses are); kill points' children are not.
        """
        with self.lock:
            key = next(self.ids)
            out = os.path.join(self.scratch, '%d.out' % key)
            err = os.path.join(self.scratch, '%d.err' % key)
            job = self.jobs[key] = Job(argv, out, err)
            self.proc.stdin.write(json.dumps({
                'id': key, 'argv': argv, 'point': point, 'pgid': pgid,
                'measure': measure, 'stdout': out, 'stderr': err}) + '\n')
            self.proc.stdin.flush()
        assert job.started.wait(TIMEOUT_S), 'the zygote did not fork'
        return job

    def run(self, conf, *args, point='none', timeout=TIMEOUT_S):
        return self.start(conf, *args, point=point).wait(timeout)

    def cli(self, config_files, *args, timeout=TIMEOUT_S):
        """As base.run_cli: ``xenballoon`` run to its end, a base.Result.

        The child runs the CLI's entry point, main(argv), as a process of
        its own: its own stdout, stderr and exit code.
        """
        argv = []
        for path in config_files:
            argv += ['--config-file', str(path)]
        argv += [str(a) for a in args]
        done = self.start_argv(argv, measure=True).wait(timeout)
        return base.Result(args, subprocess.CompletedProcess(
            argv, done.rc, done.stdout, done.stderr))

    def close(self):
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        self.proc.wait(TIMEOUT_S)


_zygote = []


def zygote(tmp_path_factory):
    """This test process's zygote, started on first use."""
    if not _zygote:
        _zygote.append(Zygote(str(tmp_path_factory.mktemp('zygote'))))
        atexit.register(_zygote[0].close)
    return _zygote[0]


# -- hosts ---------------------------------------------------------------

def small_scenario(**build):
    return {
        'host': {'total_mb': 64 * GiB, 'dom0_mb': 56 * GiB,
                 'dom0_low_mb': 1024, 'xen_mb': 0},
        'balloon': {'release_rate_mb_s': 2048},
        'build': dict({'populate_rate_mb_s': 1024}, **build),
    }


def write_host(root, url, scenario, host_name=None, time_scale=1000,
               **options):
    """A config file for one simulated host under ``root``; its path.

    ``options``: extra lines for [xenballoon].
    """
    root.mkdir(parents=True, exist_ok=True)
    (root / 'scenario.yaml').write_text(yaml.safe_dump(scenario))
    xb = {'state_dir': root / 'state', 'poll_interval': 0.5}
    if host_name:
        xb['host'] = host_name
    xb.update(options)
    text = '[xenballoon]\n' + ''.join(
        '%s = %s\n' % item for item in xb.items())
    text += '[persistence]\nconnection = %s\n' % url
    text += '[simulator]\nscenario_file = %s\ntime_scale = %s\n' % (
        root / 'scenario.yaml', time_scale)
    conf = root / 'xenballoon.conf'
    conf.write_text(text)
    return str(conf)


def driver(conf, recover=False):
    return driver_mod.XenBalloonDriver(cmd_base.load_conf([conf])).init_host(
        recover=recover)


# What the random kills interrupt, in turn: the lifecycle's flows too
# (a stop waits for a clean shutdown; a start and a resume find their
# guest stopped or suspended).
KINDS = ('spawn', 'spawn-revert', 'destroy', 'stop', 'start', 'suspend',
         'resume')
# Unfinished flows for recover to work on, and recover killed meanwhile:
# one it reverts, one it completes, one it finishes reverting.
RECOVER_SETUPS = {
    'reverting': ('spawn', 'balloon-after-target'),
    'completing': ('spawn', 'build-before-commit'),
    'revert-resumed': ('spawn-revert', 'revert-returning-dom0'),
    # A stop it finishes, a start it undoes to stopped.
    'stop-finishing': ('stop', 'stop-shutdown-asked'),
    'start-undoing': ('start', 'start-before-create'),
}


def scenario(kind):
    if kind == 'spawn-revert':
        # The build fails half-way: the flow reverts.
        return small_scenario(fail_at_fraction=0.5)
    return small_scenario()


def command(kind, name='vm1'):
    if kind in ('destroy', 'start', 'suspend', 'resume'):
        return (kind, name)
    if kind == 'stop':
        return ('stop', name, '--timeout', 60, '--retry-interval', 2)
    return ('spawn', name, '--memory-mb', 20 * GiB)


def new_host(root, url, kind, name='vm1', host_name=None):
    """A host ready for ``command(kind, name)``.

    With the guest there: running (destroy, stop, suspend), stopped
    (start) or suspended (resume).
    """
    conf = write_host(root, url, scenario(kind), host_name=host_name)
    if kind in ('destroy', 'stop', 'start', 'suspend', 'resume'):
        drv = driver(conf)
        drv.spawn(name, 20 * GiB)
        if kind == 'start':
            drv.power_off(name)
        elif kind == 'resume':
            drv.suspend(name)
    return conf


_totals = {}


def count_events(zygote, tmp_path_factory, key):
    """Events in one undisturbed run of ``key`` on SQLite (cached).

    ``key`` is a kind, or ('recover', setup) for recover after a spawn
    killed at a named point. Counts hardly depend on the database (the
    same calls are made); waits make them vary a little from run to run.
    """
    if key not in _totals:
        root = tmp_path_factory.mktemp('count')
        url = 'sqlite:///%s' % (root / 'flows.sqlite')
        counted = root / 'events'
        if isinstance(key, tuple):
            kind, point = RECOVER_SETUPS[key[1]]
            conf = new_host(root / 'host', url, kind)
            zygote.run(conf, *command(kind), point=point)
            args = ('recover', '-f', 'json')
        else:
            conf = new_host(root / 'host', url, key)
            args = command(key)
        result = zygote.run(conf, *args, point='count:%s' % counted)
        assert 'Traceback' not in result.stderr, result
        _totals[key] = int(counted.read_text())
    return _totals[key]


# -- the checks ----------------------------------------------------------

def debts(drv):
    """(dom0's open debt or None, {name: why} of owed destroys).

    What the ledger says it still owes (issue 9 item 3): while dom0's
    debt is open its target may be short of the derived one, and a domain
    a revert could not destroy is known to the ledger as owed.
    """
    method = getattr(drv.ledger, 'debts', None)
    return method() if callable(method) else (None, {})


def host_sample(drv):
    """(ledger + guests + Xen, total, unknown domains), read together.

    Under the ledger's lock, so no spawn or destroy moves the ledger
    between the two reads: every ledger entry counts its whole need (a
    domain being built as well), dom0 counts at the target the ledger
    derives, and domains the ledger does not know count what they hold.
    """
    with drv.ledger.storage.locked() as state:
        with drv.backend.store.session(write=False) as model:
            names = {e['name'] for e in state['entries'].values()}
            unknown = {name: dom['populated_mb']
                       for name, dom in model.domains.items()
                       if name not in names}
            if state['entries'] or state.get('dom0_debt'):
                # What dom0 is owed counts as dom0's.
                derive = getattr(drv.ledger, '_derived', drv.ledger._target)
                dom0 = derive(state)
            else:
                dom0 = model.dom0_target_mb
            used = (dom0 + sum(e['need_mb'] for e in
                               state['entries'].values()) +
                    sum(unknown.values()) + model.xen_mb)
            return used, model.total_mb, sorted(unknown)


def consistency_problems(conf, recovered=(), mine=None):
    """Invariant 6 after recovery, as sentences; [] when consistent.

    ``recovered``: the rows of ``recover -f json``; a flow it reported
    'quarantined' may stay unfinished if nothing of it is left.
    ``mine(request)``: which stored flows are this host's (default: all),
    when hosts share a database.
    """
    drv = driver(conf)
    problems = []
    quarantined = {r['name'] for r in recovered
                   if r.get('outcome') == 'quarantined'}
    entries = drv.ledger.entries()
    domains = {d.name: d for d in drv.backend.list_domains()}
    for flow in drv.list_flows():
        if flow.state in FINISHED or (mine and not mine(flow.request)):
            continue
        if flow.request in quarantined:
            name = flow.request.split(' ', 1)[-1]
            if flow.flow_id in entries or (
                    flow.request.startswith('spawn') and name in domains):
                problems.append('quarantined flow %s (%s) left %s behind' % (
                    flow.request, flow.flow_id, 'a ledger entry'
                    if flow.flow_id in entries else 'a domain'))
            continue
        problems.append('flow %s (%s) is %s after recovery' % (
            flow.request, flow.flow_id, flow.state))
    for res_id, entry in entries.items():
        if entry['state'] == 'stopped':
            problems += stopped_problems(entry, domains)
        elif entry['state'] != 'domain':
            problems.append('ledger entry %s for %s is %r, not a domain' % (
                res_id, entry['name'], entry['state']))
    dom0_debt, owed = debts(drv)
    for name, dom in domains.items():
        if dom.state != 'running' and name not in owed:
            problems.append('domain %s is %s (partial)' % (name, dom.state))
    in_ledger = {e['name'] for e in entries.values()
                 if e['state'] == 'domain'}
    if set(domains) - set(owed) != in_ledger:
        problems.append('domains %s != ledger names %s (owed destroys: %s)'
                        % (sorted(domains), sorted(in_ledger), owed))
    derived = drv.ledger.target()
    if derived is None:
        derived = drv.ledger.baseline()
    found = drv.backend.dom0_memory().target_mb
    if derived is not None and found != derived and not (
            dom0_debt and found < derived):
        problems.append('dom0 target %d MiB != %d MiB the ledger derives '
                        '(dom0 debt: %s)' % (found, derived, dom0_debt))
    used, total, unknown = host_sample(drv)
    if used > total + 1e-6:
        problems.append('ledger + guests + Xen = %.0f MiB > host total %.0f '
                        'MiB' % (used, total))
    return problems


def stopped_problems(entry, domains):
    """What is wrong with a stopped guest after recovery.

    It must have no domain and no flow's mark, and its saved memory (if
    any) must be on disk.
    """
    name, problems = entry['name'], []
    if name in domains:
        problems.append('stopped guest %s still has a domain (%s)' % (
            name, domains[name].state))
    for mark in ('stopping', 'starting'):
        if mark in entry:
            problems.append('stopped guest %s is still held by flow %s '
                            '(%s)' % (name, entry[mark], mark))
    if entry.get('saved') and not os.path.exists(entry['saved']):
        problems.append('suspended guest %s: its saved memory %s is gone'
                        % (name, entry['saved']))
    return problems


def still_works_problems(conf):
    """Any command's start (recovery first), host-status, list, spawn."""
    problems = []
    try:
        drv = driver(conf, recover=True)
        drv.host_status()
        # A stopped guest's memory was kept for it: its start must work.
        for entry in drv.ledger.stopped().values():
            if drv.power_on(entry['name']).state != 'running':
                problems.append('%s did not start' % entry['name'])
        before = set(drv.list_instances())
        try:
            drv.spawn('probe', GiB)
        except exception.BuildFailed:
            # The scenario fails every build: the spawn must undo itself.
            if set(drv.list_instances()) != before:
                problems.append('failed probe spawn left a domain')
        else:
            if set(drv.list_instances()) != before | {'probe'}:
                problems.append('probe spawn did not leave a running domain')
            drv.destroy('probe')
    except Exception as err:  # any failure here is the finding
        problems.append('after recovery, commands fail: %s: %s' % (
            type(err).__name__, err))
    return problems
