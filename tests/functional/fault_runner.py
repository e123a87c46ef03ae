"""Run a xenballoon command and SIGKILL it at a named or counted point.

    python fault_runner.py POINT -- xenballoon args...
    python fault_runner.py serve


POINT is one of:

- a name from POINTS (or 'build-inside-create'): die at that call;
- ``none``: run the command as it is;
- ``count:FILE``: die nowhere; write to FILE how many events the run had;
- ``nth:N``: die at the N-th event (1-based);
- ``group:N``: at the N-th event, SIGKILL the whole process group, so that
  every command started in the group dies at that same moment.

An event is the moment just before or just after one call into the
backend (the simulated hypervisor and its clock's sleeps), the ledger,
the ledger's storage (its table's read and write) or the flow persistence
(taskflow connection saves and updates). Counting every one of them, a
random N spreads kills over the whole spawn or destroy, reverts included,
instead of a few chosen points. The event killed at is printed on stderr
first ("fault: ..."), so a failure says where the process died.

``serve`` imports all of that once, then forks one child per request read
on stdin (see kill_harness.Zygote): each command then starts in a
fraction of a second instead of two, and a child is still a process of
its own, with its own files, locks and database connections, killed as
one.

Used by test_crash_recovery.py and test_kill_*.py: the point is reached
through the real code, and the process dies there as if the machine had
killed it, leaving whatever it had stored.
"""

import inspect
import os
import signal
import sys

from taskflow.persistence.backends import impl_sqlalchemy
from taskflow.persistence import path_based

from xenballoon_driver.balloon import progress
from xenballoon_driver import clock
from xenballoon_driver.cmd import shell
from xenballoon_driver import ledger
from xenballoon_driver.persistence import documents
from xenballoon_driver.simulator import backend as simulated

# point: (class, method, 'before' or 'after' the call, on which call)
POINTS = {
    'reserve-before': (ledger.Ledger, 'reserve', 'before', 1),
    'reserve-after': (ledger.Ledger, 'reserve', 'after', 1),
    'balloon-after-target': (simulated.SimulatedHypervisor,
                             'set_dom0_target', 'after', 1),
    'wait-middle': (progress.ProgressWatcher, 'observe', 'after', 3),
    # A shortfall's top-up is stored; dom0 has not been asked for it yet.
    'wait-after-top-up': (ledger.Ledger, 'top_up', 'after', 1),
    'build-before-create': (ledger.Ledger, 'mark_building', 'after', 1),
    'build-inside-create': None,  # see below
    'build-before-commit': (ledger.Ledger, 'commit', 'before', 1),
    'build-after-commit': (ledger.Ledger, 'commit', 'after', 1),
    'revert-destroying-domain': (simulated.SimulatedHypervisor,
                                 'destroy_domain', 'after', 1),
    'revert-returning-dom0': (ledger.Ledger, 'return_dom0', 'after', 1),
    'revert-releasing': (ledger.Ledger, 'release', 'before', 1),
    'destroy-before-release': (ledger.Ledger, 'forget_domain', 'before', 1),
    # A stop whose guest was asked to shut down; a start about to build.
    'stop-shutdown-asked': (simulated.SimulatedHypervisor,
                            'shutdown_domain', 'after', 1),
    'start-before-create': (simulated.SimulatedHypervisor, 'create_domain',
                            'before', 1),
    # The headroom's figure is stored; dom0 has not been asked for it.
    # The first: init_host's; the second: the command's own, at its end.
    'headroom-stored': (ledger.Ledger, 'set_headroom', 'after', 1),
    'headroom-stored-2': (ledger.Ledger, 'set_headroom', 'after', 2),
    # The flow's logbook has just been stored; no task has run.
    'logbook-saved': ((path_based.PathBasedConnection,
                       impl_sqlalchemy.Connection), 'save_logbook',
                      'after', 1),
}

# What the counted modes count: every call into these, both sides.
PERSISTENCE_CALLS = ('save_logbook', 'update_flow_details',
                     'update_atom_details')
COUNTED = [
    (simulated.SimulatedHypervisor,
     ('snapshot', 'host_info', 'host_memory', 'dom0_memory',
      'set_dom0_target', 'create_domain', 'destroy_domain', 'list_domains',
      'shutdown_domain', 'save_domain', 'restore_domain')),
    # The simulated host's own time: waits for the balloon, the build, a
    # guest's shutdown, a save or a restore.
    (clock.ScaledClock, ('sleep',)),
    # Every public method, those of its parts (power.py, audit.py) too.
    (ledger.Ledger, tuple(sorted({
        name for cls in ledger.Ledger.__mro__ for name in vars(cls)
        if not name.startswith('_') and
        inspect.isfunction(vars(cls)[name])}))),
    (documents.SqliteDocuments, ('read', 'write')),
    (documents.AlchemyDocuments, ('read', 'write')),
    (path_based.PathBasedConnection, PERSISTENCE_CALLS),
    (impl_sqlalchemy.Connection, PERSISTENCE_CALLS),
]


def die(where='', group=False):
    if where:
        sys.stderr.write('fault: killed %s\n' % where)
        sys.stderr.flush()
    if group:
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def arm(classes, method, when, nth):
    if not isinstance(classes, tuple):
        classes = (classes,)
    calls = [0]
    for cls in classes:
        real = getattr(cls, method)

        def wrapper(*args, real=real, **kwargs):
            calls[0] += 1
            if when == 'before' and calls[0] == nth:
                die()
            result = real(*args, **kwargs)
            if when == 'after' and calls[0] == nth:
                die()
            return result
        setattr(cls, method, wrapper)


def arm_inside_create():
    # Die at the first wait inside create_domain: the domain exists, half
    # populated, and the host's state file already says so.
    real_create = simulated.SimulatedHypervisor.create_domain
    real_sleep = clock.ScaledClock.sleep
    inside = [False]

    def create(self, spec):
        inside[0] = True
        return real_create(self, spec)

    def sleep(self, seconds, wake=None):
        if inside[0]:
            die()
        return real_sleep(self, seconds, wake)
    simulated.SimulatedHypervisor.create_domain = create
    clock.ScaledClock.sleep = sleep


class Counter:
    """Counts events; dies at the ``kill_at``-th (None: never)."""

    def __init__(self, kill_at=None, group=False):
        self.events = 0
        self.kill_at = kill_at
        self.group = group

    def event(self, side, name):
        self.events += 1
        if self.events == self.kill_at:
            die('at event %d: %s %s' % (self.events, side, name),
                self.group)

    def install(self):
        for cls, methods in COUNTED:
            for method in methods:
                self._wrap(cls, method)

    def _wrap(self, cls, method):
        real = getattr(cls, method)
        name = '%s.%s' % (cls.__name__, method)

        def wrapper(*args, **kwargs):
            self.event('before', name)
            result = real(*args, **kwargs)
            self.event('after', name)
            return result
        setattr(cls, method, wrapper)


def warm_up():
    """Import what commands import, before any fork; open nothing."""
    import importlib
    import pkgutil

    import xenballoon_driver
    for mod in pkgutil.walk_packages(xenballoon_driver.__path__,
                                     'xenballoon_driver.'):
        if not mod.name.endswith('privsep'):
            importlib.import_module(mod.name)
    for name in ('psycopg2', 'pymysql', 'taskflow.engines.action_engine.'
                 'engine', 'cliff.formatters.json_format',
                 'cliff.formatters.table'):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    # The CLI's entry points (scanning them is the slow part of start-up).
    manager = shell.XenBalloonApp().command_manager
    for name, _ in manager:
        manager.find_command(name.split())


def child(request):
    """In a forked child: run one command as a process of its own."""
    code = 1
    measured = coverage_in_child(request.get('measure', False))
    try:
        pgid = request.get('pgid')
        if pgid is not None:
            try:
                os.setpgid(0, pgid)
            except OSError:
                # The group is gone already: die alone, in a group of its
                # own (the zygote's is the test run's: pytest and all).
                os.setpgid(0, 0)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for fd, path in ((1, request['stdout']), (2, request['stderr'])):
            out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(out, fd)
            os.close(out)
        os.environ.update(request.get('env') or {})
        code = main([request['point'], '--'] + request['argv'])
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    except BaseException:
        import traceback
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        if measured is not None:
            # os._exit skips the save an exiting process makes.
            measured.stop()
            measured.save()
        os._exit(code or 0)


def coverage_in_child(measure):
    """Under coverage, this child's measurement if ``measure``, else None.

    [coverage:run] patch = fork (tox.ini) starts a measurement of its own
    in each forked child. The kill tests' children (most die by SIGKILL,
    their data with them) run without it: it costs them a third more CPU.
    """
    coverage = sys.modules.get('coverage')
    cov = coverage and coverage.Coverage.current()
    if cov is not None and not measure:
        cov.stop()
        cov = None
    return cov


def serve():
    """Fork a child per JSON request line; report its pid and exit code."""
    import json
    import select
    warm_up()
    children = {}

    def reply(**kw):
        sys.stdout.write(json.dumps(kw) + '\n')
        sys.stdout.flush()

    reply(ready=True)
    pending, open_ = b'', True
    while open_ or children:
        readable, _, _ = select.select([0] if open_ else [], [], [], 0.02)
        if readable:
            # Raw reads: a buffered readline could keep a second request
            # in its buffer while select() waits for more.
            data = os.read(0, 65536)
            open_ = bool(data)
            pending += data
        while b'\n' in pending:
            line, pending = pending.split(b'\n', 1)
            request = json.loads(line)
            pid = os.fork()
            if pid == 0:
                child(request)
            children[pid] = request['id']
            reply(id=request['id'], pid=pid)
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if not pid:
                break
            reply(id=children.pop(pid),
                  rc=os.waitstatus_to_exitcode(status))


def main(argv):
    if argv == ['serve']:
        return serve()
    point, sep, rest = argv[0], argv[1], argv[2:]
    assert sep == '--'
    mode, _, value = point.partition(':')
    counter = None
    if mode == 'count':
        counter = Counter()
        counter.install()
    elif mode in ('nth', 'group'):
        Counter(int(value), group=mode == 'group').install()
    elif point == 'none':
        pass
    elif point == 'build-inside-create':
        arm_inside_create()
    else:
        arm(*POINTS[point])
    try:
        return shell.main(rest)
    finally:
        if counter is not None:
            with open(value, 'w') as f:
                f.write('%d\n' % counter.events)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
