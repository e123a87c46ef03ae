"""Refused commands: bad input (exit 2) and too-big requests (exit 3).

Every refusal prints exactly one ``error:`` line on stderr naming the
problem, exits with its documented code, prints no traceback, and changes
nothing: ``host-status -f json``, ``list -f json`` and every row of the
flow database (stored flows and the reservation ledger) read the same
before and after.

The cases share one populated host (a guest that took memory from dom0
is running on it) and run side by side; the host is read before and after
the whole batch. Each case is the CLI's entry point, main(argv), in a
process of its own forked by the kill harness's zygote (its own stdout,
stderr and exit code): a Python start-up per case (a second or two
under coverage) would cost minutes. Every case uses a domain name of its
own, so a case that wrongly creates a domain is named by what ``list``
shows.
"""

import dataclasses
import json
import os
import shutil
import sqlite3
import subprocess

import pytest

from tests.functional import base
from tests.functional import kill_harness

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
    # Raw bytes appended to the host's config, in a file of its own.
    config_bytes: bytes = None
    # Command-line words before the command (global options), and
    # whether to pass the host's --config-file at all.
    prefix: tuple = ()


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
        'nan-rate': 'balloon: {release_rate_mb_s: .nan}\n',
        'inf-populate': 'build: {populate_rate_mb_s: .inf}\n',
        'text-rate': 'balloon: {release_rate_mb_s: fast}\n',
    }[kind]
    path.write_text(text, encoding='utf-8')
    return path


SCENARIO_FAULTS = {
    'bad-yaml': ('not valid YAML',),
    'unknown-field': ('unknown field', 'speed'),
    'negative-rate': ('release_rate_mb_s', '-5'),
    'nan-rate': ('balloon.release_rate_mb_s', 'nan'),
    'inf-populate': ('build.populate_rate_mb_s', 'inf'),
    'text-rate': ('balloon.release_rate_mb_s', "'fast'"),
    'missing': ('no such file',),
}

MEMORY = [
    ('negative', '-5', ('memory size', '-5')),
    ('zero', '0', ('memory size', '0', 'above zero')),
    ('word', 'abc', ('memory size', "'abc'", 'whole number')),
    ('fraction', '1.5', ('memory size', "'1.5'", 'whole number')),
    ('exponent', '1e3', ('memory size', "'1e3'", 'whole number')),
    ('absurd', '99999999999', ('memory size', '99999999999', 'limit')),
    # int() reads these; an operator's typo or a pasted number must not.
    ('arabic-indic', '\u0661\u0660\u0662\u0664',
     ('memory size', 'ASCII digits')),
    ('fullwidth', '\uff11\uff10\uff12\uff14',
     ('memory size', 'ASCII digits')),
    ('underscore', '1_024', ('memory size', "'1_024'", 'ASCII digits')),
    ('hex', '0x400', ('memory size', "'0x400'")),
    ('nan', 'nan', ('memory size', "'nan'")),
    ('inf', 'inf', ('memory size', "'inf'")),
    ('blank', ' ', ('memory size', "' '")),
]

DOM0_HINT = 'reserved for dom0'
DOMID_HINT = 'xl would read it as a domain ID'


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
    ('dom0', 'Domain-0', ('domain name', "'Domain-0'", DOM0_HINT)),
    ('dom0-lower', 'domain-0', ('domain name', "'domain-0'", DOM0_HINT)),
    ('dom0-upper', 'DOMAIN-0', ('domain name', "'DOMAIN-0'", DOM0_HINT)),
    ('domid-zero', '0', ('domain name', "'0'", DOMID_HINT)),
    ('domid-signed', '+7', ('domain name', "'+7'", DOMID_HINT)),
    ('domid-spaced', ' 12', ('domain name', "' 12'", DOMID_HINT)),
    ('tab', 'a\tb', ('domain name', NAME_HINT)),
    ('escape', 'a\x1b[31m', ('domain name', NAME_HINT)),
    ('non-ascii', 'g\u00e4st', ('domain name', NAME_HINT)),
    ('leading-dot', '.hidden', ('domain name', NAME_HINT)),
]

# One bad value per float option that matters most (a NaN stall_timeout
# turned stall detection off); tests/unit/test_conf_input.py tries every
# number option.
NON_FINITE = [
    ('xenballoon', 'stall_timeout', 'nan'),
    ('xenballoon', 'min_progress_mb_s', 'nan'),
    ('xenballoon', 'poll_interval', 'inf'),
    ('xenballoon', 'max_wait', '-inf'),
    ('simulator', 'time_scale', 'nan'),
    ('simulator', 'time_scale', 'Infinity'),
    ('scheduler', 'default_release_rate_mb_s', 'NaN'),
    ('xl', 'command_timeout', 'nan'),
]

CONFIG = [
    ('floor-unicode', {'xenballoon': {'dom0_min_memory_mb':
                                      '\u0665\u0660\u0660\u0660'}},
     ('[xenballoon] dom0_min_memory_mb', 'ASCII digits')),
    ('retention-underscore', {'persistence': {'retention_hours': '1_0'}},
     ('[persistence] retention_hours', "'1_0'")),
    ('stall-empty', {'xenballoon': {'stall_timeout': ''}},
     ('[xenballoon] stall_timeout', 'empty value')),
    ('misspelt-option', {'xenballoon': {'stall_timout': '60'}},
     ('[xenballoon] stall_timout', 'unknown option',
      'did you mean stall_timeout?')),
    ('misspelt-section', {'xenbaloon': {'stall_timeout': '60'}},
     ('section [xenbaloon]', 'unknown section', 'did you mean [xenballoon]')),
    ('unknown-default', {'DEFAULT': {'verbose': 'true'}},
     ('[DEFAULT] verbose', 'unknown option')),
    ('host-too-long', {'xenballoon': {'host': 'h' * 256}},
     ('[xenballoon] host', '256 characters', '255')),
    ('orphan-action-bogus', {'persistence': {'orphan_action': 'burn'}},
     ('[persistence] orphan_action', 'burn')),
]

# Raw bytes at the end of the host's config file.
CONFIG_BYTES = [
    ('garbage-bytes', b'\xff\xfe\x00\x01garbage\n', ('byte', 'UTF-8')),
    ('nul-in-value', b'[libvirt]\nuri = xen:///sys\x00tem\n',
     ('control character', "'\\x00'")),
    ('escape-in-value', b'[xl]\ncommand = xl\x1b[2J\n',
     ('control character', "'\\x1b'")),
    ('broken-section', b'[xenballoon\n', ('Invalid section',)),
    ('no-equals', b'[xenballoon]\nstall_timeout 5\n', ("No ':' or '='",)),
]

USAGE_HINT = '--help")'
USAGE = [
    ('unknown-flag', ('spawn', 'u1', '--memory-mb', '1024', '--bogus'),
     ('xenballoon spawn', 'unrecognized arguments: --bogus', USAGE_HINT)),
    ('missing-memory', ('spawn', 'u2'),
     ('xenballoon spawn', 'required: --memory-mb', USAGE_HINT)),
    ('missing-value', ('spawn', 'u3', '--memory-mb'),
     ('argument --memory-mb: expected one argument',)),
    ('bad-choice', ('spawn', 'u4', '--memory-mb', '1024', '--type', 'xx'),
     ("argument --type: invalid choice: 'xx'", "'pv'")),
    ('unknown-command', ('spwn', 'u5'),
     ("unknown command 'spwn'", 'did you mean spawn')),
    ('destroy-no-name', ('destroy',),
     ('xenballoon destroy', 'required: name')),
    ('simulate-bad-report', ('simulate', '--report', 'bogus'),
     ("argument --report: invalid choice: 'bogus'",)),
    ('bad-format', ('list', '-f', 'xml'),
     ("argument -f/--format: invalid choice: 'xml'",)),
]


CASES = (
    [Case('memory-' + id_, _spawn('mem-' + id_, value), 2, says)
     for id_, value, says in MEMORY] +
    [Case('vcpus-zero', _spawn('cpu-zero', '1024', '--vcpus', '0'), 2,
          ('vCPU count', '0', 'above zero')),
     Case('vcpus-word', _spawn('cpu-word', '1024', '--vcpus', 'x'), 2,
          ('vCPU count', "'x'", 'whole number'))] +
    [Case('vcpus-unicode', _spawn('cpu-uni', '1024', '--vcpus', '\u0662'),
          2, ('vCPU count', 'ASCII digits')),
     Case('vcpus-too-many', _spawn('cpu-many', '1024', '--vcpus', '513'), 2,
          ('vCPU count', '513', 'limit of 512')),
     Case('vcpus-nan', _spawn('cpu-nan', '1024', '--vcpus', 'nan'), 2,
          ('vCPU count', "'nan'"))] +
    [Case('name-' + id_, _spawn(name), 2, says) for id_, name, says in NAMES] +
    [Case('destroy-dom0', ('destroy', 'Domain-0'), 2,
          ('domain name', DOM0_HINT)),
     Case('destroy-domid', ('destroy', '0'), 2,
          ('domain name', DOMID_HINT)),
     Case('destroy-unknown', ('destroy', 'nosuch'), 6,
          ('No domain named nosuch',))] +
    # The lifecycle's commands: refused before any flow, the resident
    # guest left running.
    [Case('stop-timeout-negative', ('stop', RESIDENT, '--timeout', '-1'),
          2, ('shutdown timeout', 'seconds from 0 to 86400')),
     Case('stop-timeout-nan', ('stop', RESIDENT, '--timeout', 'nan'), 2,
          ('shutdown timeout', 'nan')),
     Case('stop-timeout-word', ('stop', RESIDENT, '--timeout', 'soon'), 2,
          ('--timeout', "'soon'")),
     Case('stop-retry-huge', ('stop', RESIDENT, '--retry-interval', '1e9'),
          2, ('shutdown retry interval',)),
     Case('reboot-timeout-inf', ('reboot', RESIDENT, '--timeout', 'inf'), 2,
          ('shutdown timeout', 'inf')),
     Case('stop-dom0', ('stop', 'Domain-0'), 2, ('domain name', DOM0_HINT)),
     Case('suspend-domid', ('suspend', '0'), 2, ('domain name', DOMID_HINT)),
     Case('start-unknown', ('start', 'nosuch'), 6,
          ('No domain named nosuch',)),
     Case('reboot-unknown', ('reboot', 'nosuch', '--hard'), 6,
          ('No domain named nosuch',)),
     Case('pause-unknown', ('pause', 'nosuch'), 6,
          ('No domain named nosuch',)),
     Case('console-unknown', ('console', 'nosuch'), 6,
          ('No console log for domain nosuch',))] +
    [Case('config-%s-%s-%s' % (group, option, value.lower()),
          _spawn('cfg-nf'), 2,
          ('[%s] %s in ' % (group, option), repr(value), 'finite'),
          config={group: {option: value}})
     for group, option, value in NON_FINITE] +
    [Case('config-' + id_, _spawn('cfg-' + id_), 2, says, config=config)
     for id_, config, says in CONFIG] +
    [Case('config-' + id_, _spawn('cfg-' + id_), 2,
          ('Invalid configuration file', '%s.conf' % id_) + says,
          config_bytes=data)
     for id_, data, says in CONFIG_BYTES] +
    [Case('usage-' + id_, args, 2, says) for id_, args, says in USAGE] +
    [Case('usage-global-flag', ('list',), 2,
          ('xenballoon: unrecognized option --bogus',), prefix=('--bogus',)),
     Case('usage-config-file-no-value', (), 2,
          ('argument --config-file: expected one argument',),
          prefix=('--config-file',))] +
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


def _command(cli, case, host, tmp, available_mb):
    """``cli(config_files, *args)`` runs the command: kill_harness's."""
    args = list(case.args)
    for i, arg in enumerate(args):
        if arg in SCENARIO_FAULTS:
            args[i] = _bad_scenario(tmp, arg)
        elif arg == 'AVAILABLE-1':
            args[i] = available_mb - 1
    if case.id == 'config-file-missing':
        return lambda: cli([host.conf_file, tmp / 'no-such.conf'], *args)
    if case.prefix:
        return lambda: cli([], *(case.prefix + tuple(args)))
    if case.config_bytes is not None:
        conf_file = host.config('%s.conf' % case.id)
        with open(conf_file, 'ab') as f:
            f.write(case.config_bytes)
        return lambda: cli([conf_file], *args)
    if case.config:
        config = {}
        for section, options in case.config.items():
            config[section] = {
                key: (_bad_scenario(tmp, value)
                      if value in SCENARIO_FAULTS else value)
                for key, value in options.items()}
        conf_file = host.config('%s.conf' % case.id, **config)
        return lambda: cli([conf_file], *args)
    return lambda: cli([host.conf_file], *args)


# Refused by the flow's first task, which leaves the flow's record
# (REVERTED) as its trail, and nothing else: the request of each.
LEAVE_A_RECORD = {'name-taken': 'spawn ' + RESIDENT, 'too-big': 'spawn huge',
                  'too-big-by-one': 'spawn nearly',
                  'destroy-unknown': 'destroy nosuch'}


def _stored(host):
    """The stored flows {flow_id: (request, state)} and the ledger rows.

    The ledger's next_seq counts reservations tried, refused ones too.
    """
    flows = {f['flow_id']: (f['request'], f['state'])
             for f in host.run('flows', '-f', 'json').json()}
    path = host.state_dir / 'flows.sqlite'
    with sqlite3.connect('file:%s?mode=ro' % path, uri=True) as db:
        ledger = []
        for owner, doc in db.execute(
                'SELECT host, doc FROM xenballoon_ledger ORDER BY host'):
            doc = json.loads(doc)
            doc.pop('next_seq')
            ledger.append((owner, doc))
    return flows, ledger


@pytest.fixture(scope='module')
def batch(tmp_path_factory):
    """Run every case; return (before, after, {case id: outcome}, stored).

    before and after: (host-status, list); stored: the flow database's
    rows (before, after).
    """
    tmp = tmp_path_factory.mktemp('refusals')
    host = base.Host(tmp / 'host', base.small_scenario())
    spawned = host.run('spawn', RESIDENT, '--memory-mb', RESIDENT_MB)
    assert spawned.rc == 0, spawned
    before = host.snapshot()
    status, domains = before
    assert [d['name'] for d in domains] == [RESIDENT]
    assert status['dom0_target_mb'] < 56 * base.GiB
    stored_before = _stored(host)

    cli = kill_harness.zygote(tmp_path_factory).cli
    jobs = {case.id: _command(cli, case, host, tmp, status['available_mb'])
            for case in CASES}
    futures = base.run_parallel(jobs)
    results = {key: future.result() for key, future in futures.items()}
    after = host.snapshot()
    return before, after, results, (stored_before, _stored(host))


def test_the_battery_is_large():
    assert len({case.id for case in CASES}) == len(CASES) >= 90
    assert len(STORAGE_FAULTS) >= 9


@pytest.mark.parametrize('case', CASES, ids=[c.id for c in CASES])
def test_refused_and_nothing_changed(batch, case):
    before, after, results, stored = batch
    result = results[case.id]
    assert result.rc == case.rc, result
    error = result.error
    for words in case.says:
        assert str(words) in error, (words, result)
    # This case's own domain is not there, then nothing else changed
    # either (all cases share the host).
    if case.args and case.args[0] == 'spawn' and case.args[1] != RESIDENT:
        assert case.args[1] not in [d['name'] for d in after[1]]
    assert after == before
    # The stored flows and the ledger: as before, but for the records the
    # flows refused by their first task left (LEAVE_A_RECORD).
    (flows_before, ledger_before), (flows_after, ledger_after) = stored
    assert ledger_after == ledger_before
    new = {flow_id: flows_after[flow_id]
           for flow_id in set(flows_after) - set(flows_before)}
    assert {k: flows_after[k] for k in flows_before} == flows_before
    assert sorted(new.values()) == sorted(
        (request, 'REVERTED') for request in LEAVE_A_RECORD.values())


def test_too_big_names_the_figures(batch):
    before, after, results, _stored_rows = batch
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
        if case.id.startswith(('memory-', 'vcpus-', 'name-', 'usage-',
                               'config-')):
            if case.id == 'name-taken':
                continue
            result = results[case.id]
            assert result.stdout == '', result
            assert result.stderr.count('\n') == 1, result


# -- the state directory and the flow database, broken -------------------
#
# Each fault is made in a copy of a used host's state directory (a guest
# running, flows stored), then a spawn runs against it: exit 9, one line
# naming the file, and every byte of the copy as it was.

def _corrupt_db(state):
    (state / 'flows.sqlite').write_bytes(b'not a database\n' * 512)


def _replace_with_dir(name):
    def fault(state):
        path = state / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
        path.mkdir()
        (path / 'keep').write_text('x')
    return fault


def _replace_with_file(name):
    def fault(state):
        shutil.rmtree(state / name)
        (state / name).write_text('not a directory\n')
    return fault


def _host_id_garbage(state):
    (state / 'host-id').write_bytes(b'\xff\x00\n')


def _state_dir_is_file(state):
    shutil.rmtree(state)
    state.write_text('not a directory\n')


def _mount_tmpfs(state, options):
    """state on a 1 MiB tmpfs of its own (root only): (filled) or ro."""
    if os.geteuid() != 0:
        pytest.skip('mounting a tmpfs needs root')
    saved = state.with_name('saved')
    shutil.copytree(state, saved)
    shutil.rmtree(state)
    state.mkdir()
    mounted = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=1m',
                              'tmpfs', str(state)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip('cannot mount a tmpfs: %s' % mounted.stderr)
    shutil.copytree(saved, state, dirs_exist_ok=True)
    if options == 'full':
        with open(state / 'filler', 'wb') as f:
            try:
                while True:
                    f.write(b'\0' * 65536)
            except OSError:
                pass
    else:
        subprocess.run(['mount', '-o', 'remount,ro', str(state)],
                       check=True)


def _disk_full(state):
    _mount_tmpfs(state, 'full')


def _read_only(state):
    _mount_tmpfs(state, 'ro')


STORAGE_FAULTS = {
    'corrupt-database': (_corrupt_db, ('flows.sqlite', 'not a database',
                                       'move it aside')),
    'state-dir-is-a-file': (_state_dir_is_file, (
        'state', 'a file is where a directory belongs')),
    'ledger-lock-is-a-dir': (_replace_with_dir('xenballoon-ledger.lock'), (
        'xenballoon-ledger.lock', 'EISDIR')),
    'store-lock-is-a-dir': (_replace_with_dir('flows.sqlite.write-lock'), (
        'flows.sqlite.write-lock', 'EISDIR')),
    'host-lock-is-a-dir': (_replace_with_dir('simulated-host.json.lock'), (
        'simulated-host.json.lock', 'EISDIR')),
    'locks-is-a-file': (_replace_with_file('locks'), (
        'locks', 'a file is where a directory belongs')),
    'host-id-garbage': (_host_id_garbage, ('host-id',
                                           'does not hold a host name')),
    'disk-full': (_disk_full, ('No space left on device', 'ENOSPC',
                               'free some space')),
    'read-only': (_read_only, ('Read-only file system', 'EROFS')),
}


def _tree(path):
    """{relative path: bytes, or None for a directory} under path."""
    if path.is_file():
        return {'.': path.read_bytes()}
    tree = {'simulated-host.json': _simulated_host(path)}
    for root, dirs, files in os.walk(path):
        for name in dirs:
            tree[os.path.relpath(os.path.join(root, name), path)] = None
        for name in files:
            if name == 'simulated-host.json':
                continue
            full = os.path.join(root, name)
            with open(full, 'rb') as f:
                tree[os.path.relpath(full, path)] = f.read()
    return tree


def _simulated_host(state):
    """The simulated host's state file, its clock aside (time passes)."""
    data = json.loads((state / 'simulated-host.json').read_text())
    del data['model']['now']
    return data


@pytest.fixture(scope='module')
def used_state(tmp_path_factory):
    """A state directory with a running guest and its flow stored."""
    host = base.Host(tmp_path_factory.mktemp('used') / 'host',
                     base.small_scenario())
    assert host.run('spawn', RESIDENT, '--memory-mb', RESIDENT_MB).rc == 0
    host.settle()
    return host


@pytest.mark.parametrize('fault', sorted(STORAGE_FAULTS))
def test_storage_fault_is_one_line_and_changes_nothing(
        used_state, tmp_path, tmp_path_factory, fault):
    make_fault, says = STORAGE_FAULTS[fault]
    state = tmp_path / 'state'
    shutil.copytree(used_state.state_dir, state)
    host = base.Host(tmp_path / 'host', base.small_scenario())
    conf_file = host.config('fault.conf', xenballoon={'state_dir': state})
    make_fault(state)
    try:
        before = _tree(state)
        result = kill_harness.zygote(tmp_path_factory).cli(
            [conf_file], 'spawn', 'fault1', '--memory-mb', '1024')
        assert result.rc == 9, result
        error = result.error
        for words in says:
            assert words in error, (words, result)
        assert result.stdout == ''
        assert _tree(state) == before
    finally:
        if os.path.ismount(state):
            subprocess.run(['umount', str(state)], check=True)
