"""Refused commands: bad input (exit 2) and too-big requests (exit 3).

Every refusal prints exactly one ``error:`` line on stderr naming the
problem, and changes nothing: ``host-status -f json`` and ``list -f json``
read the same before and after.

Each command here costs a Python start-up (most of a second), so the
cases share one populated host (a guest that took memory from dom0 is
running on it) and run side by side; the host is read before and after
the whole batch. Every case uses a domain name of its own, so a case that
wrongly creates a domain is named by what ``list`` shows.
"""

import dataclasses

import pytest

from tests.functional import base

RESIDENT = 'web1'
RESIDENT_MB = 16384      # 8 GiB from free memory, the rest from dom0
NAME_HINT = 'use a letter first'
# One MiB more than the host has with dom0 at its floor (4 GiB).
TOO_BIG_MB = 64 * base.GiB - 4096 + 1


@dataclasses.dataclass
class Case:
    id: str
    args: tuple
    rc: int
    # Each must appear in the error line.
    says: tuple
    # {section: {option: value}} for this case's own config file.
    config: dict = None


def _spawn(name, memory_mb='1024', *more):
    return ('spawn', name, '--memory-mb', memory_mb) + more


def _bad_scenario(tmp, kind):
    """A malformed scenario file (or a path to none)."""
    path = tmp / ('scenario-%s.yaml' % kind)
    if kind == 'missing':
        return path
    text = {
        'bad-yaml': 'host: {total_mb: [65536, dom0_mb: 57344\n',
        'unknown-field': 'balloon: {release_rate_mb_s: 4096, speed: 9}\n',
        'negative-rate': 'balloon: {release_rate_mb_s: -5}\n',
    }[kind]
    path.write_text(text, encoding='utf-8')
    return path


SCENARIO_FAULTS = {
    'bad-yaml': ('not valid YAML',),
    'unknown-field': ('unknown field', 'speed'),
    'negative-rate': ('release_rate_mb_s', '-5'),
    'missing': ('no such file',),
}

MEMORY = [
    ('negative', '-5', ('memory size', '-5')),
    ('zero', '0', ('memory size', '0', 'above zero')),
    ('word', 'abc', ('memory size', "'abc'", 'whole number')),
    ('fraction', '1.5', ('memory size', "'1.5'", 'whole number')),
    ('exponent', '1e3', ('memory size', "'1e3'", 'whole number')),
    ('absurd', '99999999999', ('memory size', '99999999999', 'limit')),
]

NAMES = [
    ('empty', '', ('domain name', 'empty')),
    ('65-chars', 'a' * 65, ('domain name', '65 characters', '64')),
    ('quote', "it's", ('domain name', NAME_HINT)),
    ('double-quote', 'say"hi', ('domain name', NAME_HINT)),
    ('newline', 'two\nlines', ('domain name', NAME_HINT)),
    ('slash', 'a/b', ('domain name', NAME_HINT)),
    ('space', 'a b', ('domain name', NAME_HINT)),
    ('semicolon', 'a;reboot', ('domain name', NAME_HINT)),
    ('dollar-paren', 'a$(id)', ('domain name', NAME_HINT)),
    ('backtick', 'a`id`', ('domain name', NAME_HINT)),
    ('all-digits', '12345', ('domain name', "'12345'", NAME_HINT)),
]

CASES = (
    [Case('memory-' + id_, _spawn('mem-' + id_, value), 2, says)
     for id_, value, says in MEMORY] +
    [Case('vcpus-zero', _spawn('cpu-zero', '1024', '--vcpus', '0'), 2,
          ('vCPU count', '0', 'above zero')),
     Case('vcpus-word', _spawn('cpu-word', '1024', '--vcpus', 'x'), 2,
          ('vCPU count', "'x'", 'whole number'))] +
    [Case('name-' + id_, _spawn(name), 2, says) for id_, name, says in NAMES] +
    # A regular expression ending in "$" would let this one through.
    [Case('name-trailing-newline', _spawn(RESIDENT + '2\n'), 2,
          ('domain name', "'web12\\n'", NAME_HINT)),
     Case('name-taken', _spawn(RESIDENT), 2, (RESIDENT, 'already exists')),
     # Config files: each case adds one bad option to the host's config.
     Case('config-unknown-backend', _spawn('cfg-backend'), 2,
          ("'nosuch'", 'installed', 'simulated'),
          config={'hypervisor': {'driver': 'nosuch'}}),
     Case('config-poll-negative', _spawn('cfg-poll'), 2,
          ('[xenballoon] poll_interval',),
          config={'xenballoon': {'poll_interval': '-1'}}),
     Case('config-stall-word', _spawn('cfg-stall'), 2,
          ('[xenballoon] stall_timeout', 'abc'),
          config={'xenballoon': {'stall_timeout': 'abc'}}),
     Case('config-floor-too-low', _spawn('cfg-floor'), 2,
          ('[xenballoon] dom0_min_memory_mb', '256'),
          config={'xenballoon': {'dom0_min_memory_mb': '10'}}),
     Case('config-file-missing', _spawn('cfg-missing'), 2,
          ('--config-file', 'no-such.conf', 'no such file'))] +
    [Case('scenario-file-' + kind, _spawn('scn-' + kind), 2,
          ('scenario', 'scenario-%s.yaml' % kind) + says,
          config={'simulator': {'scenario_file': kind}})
     for kind, says in SCENARIO_FAULTS.items()] +
    [Case('simulate-strategy-bogus', ('simulate', '--strategy', 'bogus'), 2,
          ("'bogus'", 'progress', 'xl-4.4', 'libvirt-2014', 'xl-4.17'))] +
    [Case('simulate-scenario-' + kind, ('simulate', '--scenario', kind), 2,
          ('scenario', 'scenario-%s.yaml' % kind) + says)
     for kind, says in SCENARIO_FAULTS.items()] +
    # Too big: more than the host has with dom0 at its floor (exit 3).
    [Case('too-big', _spawn('huge', str(TOO_BIG_MB)), 3,
          ('Cannot place huge',)),
     # One MiB too many once Xen's 2 MiB overhead is counted.
     Case('too-big-by-one', _spawn('nearly', 'AVAILABLE-1'), 3,
          ('Cannot place nearly',))]
)


def _command(case, host, tmp, available_mb):
    args = list(case.args)
    for i, arg in enumerate(args):
        if arg in SCENARIO_FAULTS:
            args[i] = _bad_scenario(tmp, arg)
        elif arg == 'AVAILABLE-1':
            args[i] = available_mb - 1
    if case.id == 'config-file-missing':
        return lambda: base.run_cli(
            [host.conf_file, tmp / 'no-such.conf'], *args)
    if case.config:
        config = {}
        for section, options in case.config.items():
            config[section] = {
                key: (_bad_scenario(tmp, value)
                      if value in SCENARIO_FAULTS else value)
                for key, value in options.items()}
        conf_file = host.config('%s.conf' % case.id, **config)
        return lambda: host.run_with(conf_file, *args)
    return lambda: host.run(*args)


@pytest.fixture(scope='module')
def batch(tmp_path_factory):
    """Run every case; return (before, after, {case id: outcome})."""
    tmp = tmp_path_factory.mktemp('refusals')
    host = base.Host(tmp / 'host', base.small_scenario())
    spawned = host.run('spawn', RESIDENT, '--memory-mb', RESIDENT_MB)
    assert spawned.rc == 0, spawned
    before = host.snapshot()
    status, domains = before
    assert [d['name'] for d in domains] == [RESIDENT]
    assert status['dom0_target_mb'] < 56 * base.GiB

    jobs = {case.id: _command(case, host, tmp, status['available_mb'])
            for case in CASES}
    futures = base.run_parallel(jobs)
    results = {key: future.result() for key, future in futures.items()}
    after = host.snapshot()
    return before, after, results


@pytest.mark.parametrize('case', CASES, ids=[c.id for c in CASES])
def test_refused_and_nothing_changed(batch, case):
    before, after, results = batch
    result = results[case.id]
    assert result.rc == case.rc, result
    error = result.error
    for words in case.says:
        assert str(words) in error, (words, result)
    # This case's own domain is not there, then nothing else changed
    # either (all cases share the host).
    if case.args[0] == 'spawn' and case.args[1] != RESIDENT:
        assert case.args[1] not in [d['name'] for d in after[1]]
    assert after == before


def test_too_big_names_the_figures(batch):
    before, after, results = batch
    status = before[0]
    error = results['too-big'].error
    need = base.pv_footprint(TOO_BIG_MB)
    assert error == (
        'error: Cannot place huge: it needs %d MiB but only %d MiB can be '
        'had (free %d MiB, dom0 can give %d MiB down to its floor of %d '
        'MiB, 0 MiB promised to other spawns)' % (
            need, status['available_mb'], status['free_mb'],
            status['balloonable_mb'], status['dom0_min_mb']))
    # dom0 was never asked for anything.
    assert after[0]['dom0_target_mb'] == status['dom0_target_mb']


def test_bad_input_prints_nothing_else(batch):
    """A refused argument is one line on stderr and nothing on stdout."""
    results = batch[2]
    for case in CASES:
        if case.id.startswith(('memory-', 'vcpus-', 'name-')):
            if case.id == 'name-taken':
                continue
            result = results[case.id]
            assert result.stdout == '', result
            assert result.stderr.count('\n') == 1, result
