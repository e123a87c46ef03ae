"""Helpers for driving the ``xenballoon`` CLI in subprocesses.

A test drives its own simulated host: a config file and a state directory
under tmp_path, with a large ``[simulator] time_scale`` so that ballooning
tens of GiB takes milliseconds of real time (or hundreds of them for a
whole terabyte host). Commands run as
``python -m xenballoon_driver.cmd.shell`` with the test's interpreter, so
the suite works in any virtualenv.
"""

import concurrent.futures
import functools
import json
import os
import subprocess
import sys
import time

import pytest
import yaml

GiB = 1024
CLI = (sys.executable, '-m', 'xenballoon_driver.cmd.shell')
# Seconds one command may take before the test gives up on it.
COMMAND_TIMEOUT_S = 60
# Fast enough that the default scenario's 100 GiB balloon (about 150
# simulated seconds) takes well under a second of real time, slow enough
# that an idle host costs little to step forward between commands.
TIME_SCALE = 2000

# The shipped default scenario (1 TiB host, dom0 at 960 GiB).
DEFAULT_TOTAL_MB = 1048576
DEFAULT_DOM0_MB = 983040
DEFAULT_XEN_MB = 2048
DEFAULT_FLOOR_MB = 4096

# A small host: 64 GiB, dom0 at 56 GiB, 8 GiB free, a fast balloon.
SMALL_SCENARIO = {
    'name': 'small-64g',
    'host': {'total_mb': 64 * GiB, 'dom0_mb': 56 * GiB,
             'dom0_low_mb': 1024, 'xen_mb': 0},
    'balloon': {'release_rate_mb_s': 4096, 'reinflate_rate_mb_s': 8192},
    'build': {'populate_rate_mb_s': 8192},
}

# host-status -f json of a fresh host on the default scenario.
DEFAULT_FREE_MB = DEFAULT_TOTAL_MB - DEFAULT_XEN_MB - DEFAULT_DOM0_MB
DEFAULT_FRESH_STATUS = {
    'total_mb': DEFAULT_TOTAL_MB, 'free_mb': DEFAULT_FREE_MB,
    'dom0_current_mb': DEFAULT_DOM0_MB, 'dom0_target_mb': DEFAULT_DOM0_MB,
    'dom0_min_mb': DEFAULT_FLOOR_MB,
    'balloonable_mb': DEFAULT_DOM0_MB - DEFAULT_FLOOR_MB, 'reserved_mb': 0,
    'available_mb': (DEFAULT_FREE_MB + DEFAULT_DOM0_MB - DEFAULT_FLOOR_MB),
    'dom0_owed_mb': 0, 'headroom_from_dom0_mb': 0,
    'ready_mb': DEFAULT_FREE_MB, 'backend': 'simulated', 'domains': 0,
}
# host-status -f json of a fresh SMALL_SCENARIO host with the default floor.
SMALL_FRESH_STATUS = {
    'total_mb': 65536, 'free_mb': 8192, 'dom0_current_mb': 57344,
    'dom0_target_mb': 57344, 'dom0_min_mb': 4096, 'balloonable_mb': 53248,
    'reserved_mb': 0, 'available_mb': 61440, 'dom0_owed_mb': 0,
    'headroom_from_dom0_mb': 0, 'ready_mb': 8192,
    'backend': 'simulated', 'domains': 0,
}


def pv_footprint(memory_mb):
    """What a PV guest takes from Xen: its memory + 1 MiB rounded to 2."""
    return memory_mb + 2


def small_scenario(**sections):
    """SMALL_SCENARIO with some sections' fields replaced or added."""
    data = {key: (dict(value) if isinstance(value, dict) else value)
            for key, value in SMALL_SCENARIO.items()}
    for section, fields in sections.items():
        data.setdefault(section, {}).update(fields)
    return data


class Result:
    """What one command did: exit code, stdout, stderr."""

    def __init__(self, args, completed):
        self.args = args
        self.rc = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr

    @property
    def error_lines(self):
        return [line for line in self.stderr.splitlines()
                if line.startswith('error:')]

    @property
    def error(self):
        """The one ``error:`` line; fails the test unless there is one."""
        lines = self.error_lines
        assert len(lines) == 1, 'expected one error line:\n%s' % self
        assert 'Traceback' not in self.stderr, str(self)
        return lines[0]

    def json(self):
        assert self.rc == 0, str(self)
        return json.loads(self.stdout)

    def __str__(self):
        return 'xenballoon %r -> exit %s\nstdout:\n%s\nstderr:\n%s' % (
            list(self.args), self.rc, self.stdout, self.stderr)

    __repr__ = __str__


def run_cli(config_files, *args, timeout=COMMAND_TIMEOUT_S):
    argv = list(CLI)
    for path in config_files:
        argv += ['--config-file', str(path)]
    argv += [str(a) for a in args]
    completed = subprocess.run(argv, capture_output=True, text=True,
                               timeout=timeout, stdin=subprocess.DEVNULL)
    return Result(args, completed)


def write_config(path, sections):
    lines = []
    for section, options in sections.items():
        lines.append('[%s]' % section)
        lines.extend('%s = %s' % (key, value)
                     for key, value in options.items())
        lines.append('')
    path.write_text('\n'.join(lines), encoding='utf-8')
    return path


class Host:
    """One simulated host: its config file and its state directory."""

    def __init__(self, root, scenario=None, time_scale=TIME_SCALE,
                 **options):
        """``options``: {section: {option: value}} added to the config."""
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.state_dir = root / 'state'
        self.scenario_file = None
        if scenario is not None:
            self.scenario_file = root / 'scenario.yaml'
            self.scenario_file.write_text(yaml.safe_dump(scenario),
                                          encoding='utf-8')
        self.time_scale = time_scale
        self.options = options
        self.conf_file = self.config('xenballoon.conf')

    def sections(self, **extra):
        sections = {'xenballoon': {'state_dir': self.state_dir},
                    'simulator': {'time_scale': self.time_scale}}
        if self.scenario_file is not None:
            sections['simulator']['scenario_file'] = self.scenario_file
        for more in (self.options, extra):
            for section, options in more.items():
                sections.setdefault(section, {}).update(options)
        return sections

    def config(self, filename, **extra):
        """Write this host's config plus ``extra`` sections to a file."""
        return write_config(self.root / filename, self.sections(**extra))

    def run(self, *args, **kwargs):
        return run_cli([self.conf_file], *args, **kwargs)

    def run_with(self, conf_file, *args, **kwargs):
        return run_cli([conf_file], *args, **kwargs)

    def status(self):
        return self.run('host-status', '-f', 'json').json()

    def domains(self):
        return self.run('list', '-f', 'json').json()

    def snapshot(self):
        """(host-status, list), taken by two commands side by side."""
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            status = pool.submit(self.status)
            domains = pool.submit(self.domains)
            return status.result(), domains.result()

    def settle(self, deadline_s=10.0):
        """host-status once dom0 has reached its target or stopped moving.

        With a large time_scale this is normally the first look; the loop
        only covers a slow machine.
        """
        status = self.status()
        give_up = time.monotonic() + deadline_s
        while (status['dom0_current_mb'] != status['dom0_target_mb'] and
               time.monotonic() < give_up):
            time.sleep(0.02)
            previous, status = status, self.status()
            if status['dom0_current_mb'] == previous['dom0_current_mb']:
                break   # stuck (a stalled balloon): no use waiting
        return status

    def settled_snapshot(self):
        """(host-status, list) once dom0 has reached its target."""
        status, domains = self.snapshot()
        if status['dom0_current_mb'] != status['dom0_target_mb']:
            status = self.settle()
        return status, domains

    def state_files(self):
        """{name: bytes} of everything in the state directory."""
        if not self.state_dir.exists():
            return None
        return {p.name: p.read_bytes() for p in self.state_dir.iterdir()}


class HeldSpawn:
    """A spawn left waiting in the background, in its own process.

    On a host whose balloon stalls (``stall_after_mb``) and with a long
    ``[xenballoon] stall_timeout``, the spawn waits until something else
    frees memory, however slow the machine: no test depends on timing.
    """

    def __init__(self, host, name, memory_mb):
        argv = list(CLI) + ['--config-file', str(host.conf_file), 'spawn',
                            name, '--memory-mb', str(memory_mb), '-f',
                            'json']
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        # The first progress line comes once the reservation is made and
        # dom0 has been asked to balloon.
        self.stderr = ''
        for line in self.proc.stderr:
            self.stderr += line
            if line.startswith('balloon:'):
                return
        self.proc.wait()
        pytest.fail('the spawn never waited (exit %s):\n%s' % (
            self.proc.returncode, self.stderr))

    def waiting(self):
        return self.proc.poll() is None

    def finish(self, timeout=COMMAND_TIMEOUT_S):
        """Wait for the spawn to end: (exit code, stdout, all stderr)."""
        out, err = self.proc.communicate(timeout=timeout)
        self.stderr += err
        return self.proc.returncode, out, self.stderr

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


def run_parallel(jobs):
    """Run {key: callable} side by side; return {key: Future}.

    The callables start subprocesses, so threads are enough to keep every
    CPU busy. An exception in a job is re-raised by its future's result().
    """
    workers = max(2, (os.cpu_count() or 2) + 1)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        futures = {key: pool.submit(job) for key, job in jobs.items()}
        return {key: future for key, future in futures.items()}


class HostFactory:
    """``factory(scenario=None, time_scale=..., **options)`` -> a new Host."""

    def __init__(self, root):
        self.root = root
        self.count = 0

    def __call__(self, scenario=None, **kwargs):
        self.count += 1
        return Host(self.root / ('host%d' % self.count), scenario, **kwargs)


class Checks:
    """A test module's multi-step checks, run side by side.

    Each CLI command spends most of a second starting Python, so checks
    that each drive their own host run at the same time, in threads (the
    work happens in subprocesses). A check is a function of ``make_host``
    that runs commands and asserts; the module's test re-raises its
    outcome, so a failing assertion is reported as usual::

        CHECKS = base.Checks()

        @CHECKS.add()
        def something(make_host): ...

        @pytest.mark.parametrize('check', CHECKS.params())
        def test_checks(outcomes, check):
            outcomes[check].result()
    """

    def __init__(self):
        self.functions = {}
        self.marks = {}

    def add(self, *marks):
        def decorator(function):
            self.functions[function.__name__] = function
            self.marks[function.__name__] = marks
            return function
        return decorator

    def params(self):
        return [pytest.param(name, id=name, marks=self.marks[name])
                for name in self.functions]

    def start(self, tmp_path_factory):
        """Run every check; return {name: Future}."""
        return run_parallel({
            name: functools.partial(function, HostFactory(
                tmp_path_factory.mktemp(name)))
            for name, function in self.functions.items()})
