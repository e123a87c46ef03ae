"""A fake ``xl`` backed by the simulator's HostModel, for fast tests.

It prints what real xl 4.17.7 prints (see render.py and fixtures/) for
the subcommands the xl backend uses: info, list [-l] [domain], mem-set,
create [-q] <file>, destroy. The host is a HostModel kept in a state file
of the simulated backend's FileStore format, behind the same lock file, so
tests can open it with FileStore to look at the host. Simulated time runs
``time_scale`` times faster than real time: dom0 keeps ballooning between
two commands, a create populates its memory, a destroy frees it.

Environment:

FAKE_XL_STATE       the state file (required); created on first use
FAKE_XL_SCENARIO    scenario YAML for a new state file (default: the
                    captured host: 2047 MiB, dom0 1536 MiB of max 1792)
FAKE_XL_TIME_SCALE  simulated seconds per real second for a new state
                    file (default 1)
FAKE_XL_DOM0_MAX_MB dom0's static maximum for a new state file
FAKE_XL_CONF        an xl.conf to read claim_mode from (default: claims
                    on, xl's default)
FAKE_XL_LOG         append each call's argv and pid, one JSON per line
FAKE_XL_HANG_S      how long the timeout faults hang (default 300)
FAKE_XL_CONSOLE_DIR where "xenconsoled" keeps guest-NAME.log (unset: none)
FAKE_XL_SHUTDOWN_S  simulated seconds a guest takes to power off once it
                    took xl shutdown's request (default 3)
FAKE_XL_FAULT       comma-separated faults:

  rc1, rc1-<sub>        exit 1 with xl's "cannot init xl context" errors
  timeout, timeout-<sub>  hang; a create hangs after its build started
  garbage-info, garbage-list  print something that is not xl's format
  truncated-json        ``list -l`` output cut off in the middle
  sxp-json              ``list -l`` in SXP (output_format="sxp")
  no-dom0               Domain-0 missing from ``list`` and ``list -l``
  negative-free         ``info`` says free_memory : -42
  absurd-total          ``info`` says total_memory is 2^40 MiB
  missing-field         ``info`` without free_memory, ``list -l``
                        without target_memkb
  oom-create            create fails with the claim's Out of memory
  create-leaves-domain  a failed build leaves its crashed domain behind
                        (real xl destroys it)
  destroy-noop          destroy exits 0 and leaves the domain running
  flaky-<sub>           FAKE_XL_FLAKY_N (default 1) calls of <sub>,
                        after the first FAKE_XL_FLAKY_AFTER (default 0),
                        exit 1 as rc1 does; the others work (a transient
                        glitch; counted in <state>.flaky-<sub>)

  shutdown-ignored      guests never take xl shutdown's request (pvgrub
                        at its prompt): xl waits libxl's 60 s and fails
  save-fails            xl save fails half-way and resumes the domain
  save-leaves-domain    xl save exits 0 but its destroy left the domain
  pause-noop            xl pause / unpause exit 0 and change nothing
                        (xl ignores libxl's answer)

<sub> is the subcommand (info, list, mem-set, create, destroy, shutdown,
pause, unpause, save, restore). Lifecycle: see lifecycle.py.
"""

import contextlib
import fcntl
import json
import math
import os
import re
import sys
import tempfile
import time

from tests.fake_xl import lifecycle
from tests.fake_xl import render
from xenballoon_driver import exception
from xenballoon_driver.simulator import model as model_mod
from xenballoon_driver.simulator import scenario as scenario_mod
from xenballoon_driver.simulator import store as store_mod

STATE_VERSION = 1
EPS = 1e-6
# The host the captures were taken on: Xen keeps 23 MiB, free 488 MiB;
# its balloon stalled at 264 MiB (REPORT.md, run b009).
CAPTURED_SCENARIO = {
    'name': 'captured-xen-4.17-qemu',
    'host': {'total_mb': 2047, 'dom0_mb': 1536, 'dom0_low_mb': 264,
             'xen_mb': 23},
    'balloon': {'release_rate_mb_s': 245, 'reinflate_rate_mb_s': 500},
    'build': {'populate_rate_mb_s': 1024},
}
CAPTURED_DOM0_MAX_MB = 1792
MIN_DOM0_KB = 128 * 1024
BUILD_POLL_S = 1.0


class Exit(Exception):
    """End the command: exit code, stdout and stderr."""

    def __init__(self, code, stdout='', stderr=''):
        super().__init__(code)
        self.code = code
        self.stdout = stdout
        self.stderr = stderr


# -- the host ------------------------------------------------------------


class Host:
    """The state file: FileStore's layout and lock, without oslo's cost."""

    def __init__(self, env):
        self.path = env.get('FAKE_XL_STATE')
        if not self.path:
            raise Exit(1, stderr='fake xl: FAKE_XL_STATE is not set\n')
        self.path = os.path.abspath(self.path)
        self.lock_path = self.path + '.lock'
        self.env = env

    def _new_state(self):
        path = self.env.get('FAKE_XL_SCENARIO')
        if path:
            scenario = scenario_mod.load(path)
            data = scenario.to_dict()
            dom0_max = int(self.env.get('FAKE_XL_DOM0_MAX_MB') or
                           scenario.host.dom0_mb)
        else:
            data = CAPTURED_SCENARIO
            scenario = scenario_mod.from_dict(data)
            dom0_max = int(self.env.get('FAKE_XL_DOM0_MAX_MB') or
                           CAPTURED_DOM0_MAX_MB)
        return {'version': STATE_VERSION, 'scenario': scenario.to_dict(),
                'epoch': time.time(),
                'time_scale': float(self.env.get('FAKE_XL_TIME_SCALE') or 1),
                'model': store_mod.model_state(
                    model_mod.HostModel(scenario)),
                'fake_xl': {'dom0_max_mb': dom0_max}}

    def _write(self, state):
        directory = os.path.dirname(self.path)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix='.fake-xl-')
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            json.dump(state, f)
        os.replace(tmp, self.path)

    @contextlib.contextmanager
    def session(self):
        """(model advanced to now, fake_xl settings, time scale)."""
        with open(self.lock_path, 'a') as lock:
            fcntl.lockf(lock, fcntl.LOCK_EX)
            try:
                try:
                    with open(self.path, encoding='utf-8') as f:
                        state = json.load(f)
                except FileNotFoundError:
                    state = self._new_state()
                scenario = scenario_mod.from_dict(state['scenario'])
                model = model_mod.HostModel(scenario)
                store_mod.set_model_state(model, state['model'])
                now = (time.time() - state['epoch']) * state['time_scale']
                model.advance(now)
                lifecycle.settle(model)
                extra = state.setdefault('fake_xl', {})
                extra.setdefault('dom0_max_mb', scenario.host.dom0_mb)
                yield model, extra, state['time_scale']
                state['model'] = store_mod.model_state(model)
                self._write(state)
            finally:
                fcntl.lockf(lock, fcntl.LOCK_UN)


def claim_mode(env):
    path = env.get('FAKE_XL_CONF')
    if not path or not os.path.exists(path):
        return True
    with open(path, encoding='utf-8') as f:
        for line in f:
            match = re.match(r'\s*claim_mode\s*=\s*"?(\d+)"?', line)
            if match:
                return int(match.group(1)) != 0
    return True


# -- what the host looks like to xl --------------------------------------


def floor_mb(value):
    return int(math.floor(value + EPS))


def claim_of(model, dom, claims):
    """Outstanding claim of a domain being built (claim mode only)."""
    if not claims or dom['state'] != 'building':
        return 0.0
    return max(0.0, dom['footprint_mb'] - dom['populated_mb'])


def flags_of(dom):
    if dom.get('xl', {}).get('paused'):
        return '--p---'
    return {'building': '--p---', 'running': 'r-----',
            'crashed': '----c-'}.get(dom['state'], '------')


def rows(model, claims, faults):
    table = []
    if 'no-dom0' not in faults:
        table.append(('Domain-0', 0, floor_mb(model.dom0_mb), 2, 'r-----',
                      10.0 + model.now * 0.01))
    for name, dom in sorted(model.domains.items(),
                            key=lambda item: item[1]['domid']):
        mem = dom['populated_mb'] + claim_of(model, dom, claims)
        started = dom.get('xl', {}).get('created_at', model.now)
        table.append((name, dom['domid'], floor_mb(mem), dom['vcpus'],
                      flags_of(dom), max(0.0, model.now - started) * 0.01))
    return table


def find(model, ident):
    """xl's find_domain: all digits is a domid, anything else a name.

    Returns (domid, name or None); raises Exit for an unknown name.
    """
    if re.fullmatch(r'\d+', ident):
        domid = int(ident)
        if domid == 0:
            return 0, 'Domain-0'
        for name, dom in model.domains.items():
            if dom['domid'] == domid:
                return domid, name
        return domid, None
    if ident == 'Domain-0':
        return 0, ident
    if ident in model.domains:
        return model.domains[ident]['domid'], ident
    raise Exit(1, stderr=render.invalid_domain(ident))


# -- subcommands ---------------------------------------------------------


def cmd_info(host, args, faults, env):
    if 'garbage-info' in faults:
        raise Exit(0, stdout='<html><body>502 Bad Gateway</body></html>\n'
                             'xl: \x00\x01 binary noise\n')
    with host.session() as (model, extra, scale):
        claims = claim_mode(env)
        claimed = sum(claim_of(model, d, claims)
                      for d in model.domains.values())
        total, free = floor_mb(model.total_mb), floor_mb(model.free_mb())
    replace, drop = {}, ()
    if 'negative-free' in faults:
        replace['free_memory'] = '-42'
    if 'absurd-total' in faults:
        replace['total_memory'] = str(2 ** 40)
    if 'missing-field' in faults:
        drop = ('free_memory',)
    raise Exit(0, stdout=render.info(total, free, floor_mb(claimed),
                                     drop=drop, replace=replace))


def cmd_list(host, args, faults, env):
    long_form = False
    idents = []
    for arg in args:
        if arg in ('-l', '--long'):
            long_form = True
        elif arg.startswith('-'):
            raise Exit(2, stderr='fake xl: list option %s is not faked\n'
                       % arg)
        else:
            idents.append(arg)
    if not long_form and 'garbage-list' in faults:
        raise Exit(0, stdout='Name ID Mem\nDomain-0 zero lots\n')
    claims = claim_mode(env)
    with host.session() as (model, extra, scale):
        table = rows(model, claims, faults)
        wanted = None
        if idents:
            domid, name = find(model, idents[0])
            if name is None:
                raise Exit(1, stderr=render.no_such_domid(idents[0]))
            wanted = domid   # with no-dom0, 0 finds no row: header only
        entries = []
        for row in table:
            if wanted is not None and row[1] != wanted:
                continue
            if row[1] == 0:
                entries.append(render.dom0_entry(
                    extra['dom0_max_mb'] * 1024,
                    int(round(model.dom0_target_mb * 1024)) - 1,
                    drop_target='missing-field' in faults))
            else:
                dom = model.domains[row[0]]
                xl = dom.get('xl', {})
                entries.append(render.guest_entry(
                    row[1], row[0], xl.get('type', 'pv'),
                    int(xl.get('memory_mb', dom['footprint_mb'])) * 1024,
                    dom['vcpus'], xl.get('kernel', ''), claims,
                    drop_target='missing-field' in faults,
                    uuid_text=xl.get('uuid')))
        table = [row for row in table if wanted is None or row[1] == wanted]
    if not long_form:
        raise Exit(0, stdout=render.list_table(table))
    text = render.list_long(entries)
    if 'truncated-json' in faults:
        text = text[:len(text) // 2]
    if 'sxp-json' in faults:
        text = '(domain\n    (domid 0)\n    (create_info)\n)\n'
    raise Exit(0, stdout=text)


def parse_size_kb(text):
    """xl's parse_mem_size_kb: digits and one of b/k/m/g/t (none = m)."""
    match = re.fullmatch(r'(-?\d+)([bkmgtBKMGT]?)', text)
    if not match:
        return None
    value = int(match.group(1))
    unit = match.group(2).lower() or 'm'
    factor = {'b': 1.0 / 1024, 'k': 1, 'm': 1024, 'g': 1024 ** 2,
              't': 1024 ** 3}[unit]
    return int(value * factor)


def cmd_mem_set(host, args, faults, env):
    if len(args) < 2:
        raise Exit(2, stdout=render.USAGE,
                   stderr=render.requires_args('mem-set', 2))
    ident, size = args[0], args[1]
    kb = parse_size_kb(size)
    with host.session() as (model, extra, scale):
        domid, name = find(model, ident)
        if name is None:
            raise Exit(1, stderr=render.no_such_domid(ident))
        if kb is None:
            raise Exit(1, stderr=render.memset_invalid(size))
        if domid != 0:
            raise Exit(1, stderr='fake xl: mem-set of a guest is not '
                                 'faked\n')
        if kb < 0 or kb > extra['dom0_max_mb'] * 1024:
            raise Exit(1, stderr=render.memset_above_max(0, size))
        if kb < MIN_DOM0_KB:
            raise Exit(1, stderr=render.memset_below_min(kb, size))
        model.set_dom0_target(kb / 1024.0)
    raise Exit(0)


def read_guest_config(path):
    """A small xl config reader: ``key = "text" | 'text' | number``.

    Strict like libxlu for what we write; lists are skipped. Raises Exit
    with xl's messages.
    """
    try:
        with open(path, encoding='utf-8') as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        raise Exit(3, stderr=render.config_missing(path))
    config = {}
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith('#'):
            continue
        match = re.fullmatch(
            r'([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(?:"([^"\\\n]*)"|'
            r'\'([^\'\\\n]*)\'|(0x[0-9a-fA-F]+|\d+)|(\[.*\]))\s*;?\s*(#.*)?',
            text)
        if not match:
            near = text.split()[0] if '=' not in text else text.split(
                '=', 1)[1].strip()[:12]
            raise Exit(1, stderr=render.parsing(path) + render.config_syntax(
                path, number, near))
        key, dq, sq, num, lst, _comment = match.groups()
        if lst is not None:
            items = re.findall(r'"([^"\\\n]*)"|\'([^\'\\\n]*)\'', lst)
            config[key] = [a or b for a, b in items]
        elif dq is not None or sq is not None:
            config[key] = dq if dq is not None else sq
        elif num is not None:
            config[key] = int(num, 0)
    return config


def cmd_create(host, args, faults, env):
    quiet = False
    paths = []
    for arg in args:
        if arg == '-q':
            quiet = True
        elif arg.startswith('-'):
            raise Exit(2, stderr='fake xl: create option %s is not faked\n'
                       % arg)
        else:
            paths.append(arg)
    if len(paths) != 1:
        raise Exit(2, stderr='fake xl: create takes one config file\n')
    path = paths[0]
    config = read_guest_config(path)
    head = '' if quiet else render.parsing(path)
    name = config.get('name')
    if not name:
        raise Exit(1, stderr=head + 'Domain name must be specified.\n')
    kernel = config.get('kernel')
    if not kernel:
        raise Exit(1, stderr=head + 'Neither kernel nor bootloader '
                                    'specified\n')
    memory = config.get('memory', 128)
    vcpus = config.get('vcpus', 1)
    guest_type = config.get('type', 'pv')
    claims = claim_mode(env)
    with host.session() as (model, extra, scale):
        domid = model.next_domid
        if name in model.domains or name == 'Domain-0':
            model.next_domid += 1
            raise Exit(3, stderr=head + render.create_exists(domid, name))
        if not os.path.isfile(kernel):
            model.next_domid += 1
            raise Exit(3, stderr=head + render.create_no_kernel(domid,
                                                                kernel))
        footprint = float(memory)
        claimed = sum(claim_of(model, d, claims)
                      for d in model.domains.values())
        if 'oom-create' in faults or (
                claims and model.free_mb() - claimed < footprint - EPS):
            model.next_domid += 1
            raise Exit(3, stderr=head + render.create_oom_claim(domid))
        model.start_build(name, footprint, vcpus)
        model.domains[name]['xl'] = {
            'memory_mb': memory, 'type': guest_type, 'kernel': kernel,
            'created_at': model.now, 'uuid': config.get('uuid'),
            'disk': config.get('disk', []), 'vif': config.get('vif', [])}
        lifecycle.console_line(env, name, 'GUEST: up, %d MiB' % memory)
    hang('create', faults, env)
    wait_built(host, name, domid, head, memory, faults)


def wait_built(host, name, domid, head, memory, faults, code=3):
    """Until the build of ``name`` (domid) ends; Exit as xl create does.

    ``code``: the exit status of a failed build (xl restore: 1).
    """
    while True:
        with host.session() as (model, extra, scale):
            dom = model.domains.get(name)
            if dom is None or dom['domid'] != domid:
                raise Exit(code, stderr=head + render.create_rebuild_failed(
                    domid))
            if dom['state'] == 'running':
                raise Exit(0, stderr=head)
            if dom['state'] == 'crashed':
                if 'create-leaves-domain' not in faults:
                    model.destroy(name)
                if dom['reason'].startswith('out of memory'):
                    raise Exit(code, stderr=head + render.create_oom_populate(
                        domid, int(memory) * 256))
                raise Exit(code, stderr=head + render.create_rebuild_failed(
                    domid))
            remaining = model.remaining_mb(dom)
            rate = model.build.populate_rate_mb_s
        wait = min(BUILD_POLL_S, max(remaining / rate, 0.001))
        time.sleep(max(wait / scale, 0.001))


def cmd_destroy(host, args, faults, env):
    idents = [a for a in args if not a.startswith('-')]
    if not idents:
        raise Exit(2, stdout=render.USAGE,
                   stderr=render.requires_args('destroy', 1))
    with host.session() as (model, extra, scale):
        domid, name = find(model, idents[0])
        if domid == 0:
            raise Exit(1, stderr=render.destroy_dom0())
        if name is None:
            raise Exit(1, stderr=render.destroy_no_such_domid(domid))
        if 'destroy-noop' not in faults:
            model.destroy(name)
    raise Exit(0)


COMMANDS = {'info': cmd_info, 'list': cmd_list, 'mem-set': cmd_mem_set,
            'create': cmd_create, 'destroy': cmd_destroy,
            'shutdown': lifecycle.cmd_shutdown, 'pause': lifecycle.cmd_pause,
            'unpause': lifecycle.cmd_unpause, 'save': lifecycle.cmd_save,
            'restore': lifecycle.cmd_restore}


def hang(sub, faults, env):
    if 'timeout' in faults or 'timeout-%s' % sub in faults:
        time.sleep(float(env.get('FAKE_XL_HANG_S') or 300))


def flaky(env, sub):
    """Whether this call of ``sub`` is one of the N that fail."""
    path = '%s.flaky-%s' % (os.path.abspath(env['FAKE_XL_STATE']), sub)
    with open(path, 'a+', encoding='ascii') as f:
        fcntl.lockf(f, fcntl.LOCK_EX)
        f.seek(0)
        done = len(f.read())
        f.write('x')
    after = int(env.get('FAKE_XL_FLAKY_AFTER') or 0)
    return after <= done < after + int(env.get('FAKE_XL_FLAKY_N') or 1)


def log_call(env, argv):
    path = env.get('FAKE_XL_LOG')
    if path:
        line = json.dumps({'argv': argv, 'pid': os.getpid()}) + '\n'
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode('utf-8'))
        finally:
            os.close(fd)


def run(argv, env):
    """argv without the program name -> Exit (never returns normally)."""
    log_call(env, argv)
    faults = {f.strip() for f in env.get('FAKE_XL_FAULT', '').split(',')
              if f.strip()}
    args = list(argv)
    while args and args[0].startswith('-'):
        args.pop(0)          # -v, -vvv, -f, -N, -t, -T: nothing to fake
    if not args:
        raise Exit(1, stdout=render.USAGE)
    sub, rest = args[0], args[1:]
    if sub not in COMMANDS:
        raise Exit(1, stderr=render.NOT_IMPLEMENTED)
    if 'rc1' in faults or 'rc1-%s' % sub in faults or (
            'flaky-%s' % sub in faults and flaky(env, sub)):
        raise Exit(1, stderr=render.NO_CONTEXT)
    if sub != 'create':
        hang(sub, faults, env)
    host = Host(env)
    COMMANDS[sub](host, rest, faults, env)
    raise Exit(0)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        run(argv, os.environ)
    except Exit as done:
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        return done.code
    except (exception.XenBalloonException, OSError, ValueError) as err:
        sys.stderr.write('fake xl: %s\n' % err)
        return 1
    return 0
