#!/usr/bin/env python3
"""Boot Xen + dom0 under QEMU (TCG), run the payload's tests, report.

Host side of ``tox -e xen``; standard library only. Every console line is
written to the log with the seconds since QEMU started. The whole boot
has a hard timeout. Exit status:

    0    the guest's pytest passed, with at least --min-passed tests
         passed and (unless --allow-skips) none skipped
    N    the guest's pytest exit status, when it was not 0
    2    the guest never reported a result (hang, panic, OOM, boot failure)
    3    pytest passed but too few tests passed, or some were skipped
    4    Xen or dom0 crashed (panic, dom0 crash, OOM kill)
    124  the hard timeout expired

On any failure the console's tail is printed. The measurements the
tests wrote (between XENBALLOON-MEASUREMENTS markers) are saved as JSON,
with the host's own figures (boot to toolstack, wall time) added.
"""

import argparse
import atexit
import ctypes
import hashlib
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time

MARK = 'XENBALLOON-XEN: '
FATAL = [
    (re.compile(r'Kernel panic'), 'dom0 kernel panic'),
    (re.compile(r'\(XEN\) .*Panic on CPU'), 'Xen panic'),
    (re.compile(r'\(XEN\) Hardware Dom0 crashed'), 'dom0 crashed'),
    (re.compile(r'Out of memory: Killed process'), 'dom0 out of memory'),
    (re.compile(r'System is deadlocked on memory'), 'dom0 out of memory'),
]
# Worth noting on the console, not failures.
NOTES = [
    (re.compile(r'BUG: soft lockup'), 'a soft lockup in dom0'),
    (re.compile(r'\(XEN\) .*[Ww]atchdog'), 'Xen watchdog message'),
]
RESULT_RE = re.compile(r'XENBALLOON-RESULT rc=(\d+) passed=(\d+) '
                       r'failed=(\d+) skipped=(\d+) errors=(\d+)')
UPTIME_RE = re.compile(r'uptime=([\d.]+)')


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--xen', required=True, help='Xen ELF image')
    p.add_argument('--kernel', required=True, help='dom0 kernel')
    p.add_argument('--initrd', required=True, help='dom0 initrd')
    p.add_argument('--log', required=True, help='console log to write')
    p.add_argument('--measurements', help='write the measurements JSON here')
    p.add_argument('--timeout', type=float, default=480.0,
                   help='hard limit on the whole boot, seconds')
    p.add_argument('--guest-timeout', type=float, default=None,
                   help='dom0 kills the tests after this many seconds '
                        '(default: --timeout minus 60)')
    p.add_argument('--memory', type=int, default=2048, help='MiB for QEMU')
    p.add_argument('--smp', type=int, default=2)
    p.add_argument('--cpu', default='qemu64')
    p.add_argument('--dom0-mem', type=int, default=1536)
    p.add_argument('--dom0-max', type=int, default=1792)
    p.add_argument('--xen-append', default='',
                   help='more arguments for Xen\'s command line')
    p.add_argument('--dom0-append', default='',
                   help='more arguments for dom0\'s command line')
    p.add_argument('--min-passed', type=int, default=1)
    p.add_argument('--allow-skips', action='store_true')
    p.add_argument('--verbose', action='store_true',
                   help='echo Xen\'s and the kernel\'s boot lines too')
    p.add_argument('--tail', type=int, default=60,
                   help='console lines printed on failure')
    return p.parse_args(argv)


def _die_with_parent():
    """In QEMU's child: get SIGKILL when the runner dies, even by SIGKILL."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Qemu:
    def __init__(self, cmd):
        self.cmd = cmd
        self.proc = None

    def start(self):
        # Its own process group, so that nothing of it outlives us.
        self.proc = subprocess.Popen(
            self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent)
        atexit.register(self.kill)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        return self.proc

    def _on_signal(self, signum, frame):
        self.kill()
        sys.stderr.write('xen: killed by signal %d\n' % signum)
        sys.exit(128 + signum)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()


def qemu_command(args):
    xen_append = ('console=com1 com1=115200,8n1 dom0_mem=%dM,max:%dM '
                  'dom0_max_vcpus=%d %s' % (args.dom0_mem, args.dom0_max,
                                            args.smp, args.xen_append))
    guest_timeout = args.guest_timeout or max(30, args.timeout - 60)
    dom0_append = ('console=hvc0 rdinit=/init quiet xenballoon.timeout=%d %s'
                   % (guest_timeout, args.dom0_append))
    for path in (args.xen, args.kernel, args.initrd):
        if ',' in path or ' ' in path:
            raise SystemExit('xen: %r: QEMU cannot take a path with a comma '
                             'or a space in -initrd' % path)
    return [
        'qemu-system-x86_64', '-accel', 'tcg,thread=multi',
        '-machine', 'pc', '-cpu', args.cpu, '-m', str(args.memory),
        '-smp', str(args.smp), '-nographic', '-no-reboot', '-nic', 'none',
        '-kernel', args.xen, '-append', xen_append.strip(),
        '-initrd', '%s %s,%s' % (args.kernel, dom0_append.strip(),
                                 args.initrd),
    ]


class Console:
    """Reads QEMU's console, timestamps it, and remembers what matters."""

    def __init__(self, log, verbose):
        self.log = log
        self.verbose = verbose
        self.t0 = time.monotonic()
        self.lines = []
        self.events = {}
        self.fatal = []
        self.notes = []
        self.result = None
        self.echo = verbose
        self._buf = b''

    def now(self):
        return time.monotonic() - self.t0

    def feed(self, chunk):
        self._buf += chunk
        while b'\n' in self._buf:
            raw, self._buf = self._buf.split(b'\n', 1)
            self.line(raw.decode('utf-8', 'replace').rstrip('\r'))

    def flush(self):
        if self._buf:
            self.line(self._buf.decode('utf-8', 'replace').rstrip('\r'))
            self._buf = b''

    def line(self, text):
        t = self.now()
        stamped = '[%8.2f] %s' % (t, text)
        self.lines.append(stamped)
        self.log.write(stamped + '\n')
        self.log.flush()
        if MARK in text:
            what = text.split(MARK, 1)[1]
            key = UPTIME_RE.sub('', what).strip()
            m = UPTIME_RE.search(what)
            self.events.setdefault(key, {
                'host_s': round(t, 2),
                'dom0_uptime_s': float(m.group(1)) if m else None})
            if key == 'init start':
                self.echo = True
        for pattern, what in FATAL:
            if pattern.search(text):
                self.fatal.append((t, what, text))
        for pattern, what in NOTES:
            if pattern.search(text):
                self.notes.append('%s at %.1f s' % (what, t))
        m = RESULT_RE.search(text)
        if m:
            self.result = dict(zip(
                ('rc', 'passed', 'failed', 'skipped', 'errors'),
                map(int, m.groups())))
        if self.echo and not text.startswith('XBM '):
            print(stamped, flush=True)

    def measurements(self):
        """The JSON between the markers, checked against its sha256."""
        inside, body, digest = False, [], None
        for stamped in self.lines:
            text = stamped.split('] ', 1)[1] if '] ' in stamped else stamped
            if 'XENBALLOON-MEASUREMENTS-BEGIN' in text:
                inside, body = True, []
            elif 'XENBALLOON-MEASUREMENTS-END' in text:
                inside = False
                m = re.search(r'sha256=([0-9a-f]{64})', text)
                digest = m.group(1) if m else None
            elif inside and text.startswith('XBM '):
                body.append(text[4:])
        if not body:
            return None, 'no measurements on the console'
        text = '\n'.join(body)
        ok = hashlib.sha256(text.encode()).hexdigest() == digest
        try:
            data = json.loads(text)
        except ValueError as err:
            return None, 'measurements are not JSON: %s' % err
        return data, None if ok else 'measurements sha256 mismatch'

    def tail(self, n):
        return '\n'.join(self.lines[-n:])


def main(argv=None):
    args = parse_args(argv)
    cmd = qemu_command(args)
    os.makedirs(os.path.dirname(os.path.abspath(args.log)), exist_ok=True)
    qemu = Qemu(cmd)
    timed_out = False
    with open(args.log, 'w', encoding='utf-8') as log:
        log.write('# %s\n' % ' '.join(cmd))
        console = Console(log, args.verbose)
        proc = qemu.start()
        log.write('# qemu pid %d\n' % proc.pid)
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        fatal_at = None
        while True:
            if console.now() > args.timeout:
                timed_out = True
                console.line('XENBALLOON-HOST: hard timeout of %.0f s, '
                             'killing qemu' % args.timeout)
                break
            if console.fatal and fatal_at is None:
                fatal_at = console.now()
            if fatal_at is not None and console.now() - fatal_at > 15:
                console.line('XENBALLOON-HOST: crash seen, killing qemu')
                break
            if not sel.select(timeout=0.5):
                if proc.poll() is not None:
                    break
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            console.feed(chunk)
        console.flush()
        qemu.kill()
        rc = proc.wait()
        console.line('XENBALLOON-HOST: qemu exited rc=%s after %.1f s'
                     % (rc, console.now()))

    data, problem = console.measurements()
    ready = console.events.get('toolstack ready')
    host = {
        'qemu_wall_s': round(console.now(), 2),
        'boot_to_toolstack_s': ready and ready['host_s'],
        'dom0_uptime_at_toolstack_s': ready and ready['dom0_uptime_s'],
        'events': console.events,
        'qemu_command': cmd,
        'result': console.result,
        'notes': console.notes,
    }
    if args.measurements:
        out = {'host': host}
        if data is not None:
            out.update(data)
        if problem:
            out['host']['measurements_problem'] = problem
        with open(args.measurements, 'w', encoding='utf-8') as f:
            json.dump(out, f, indent=1, sort_keys=True)
            f.write('\n')

    failures = []
    status = 0
    if timed_out:
        failures.append('hard timeout of %.0f s expired' % args.timeout)
        status = 124
    for t, what, text in console.fatal:
        failures.append('%s at %.1f s: %s' % (what, t, text.strip()))
        status = status or 4
    res = console.result
    if res is None:
        failures.append('the guest never reported a test result')
        status = status or 2
    else:
        if res['rc'] != 0:
            failures.append('pytest in dom0 exited %d (%d failed, %d errors)'
                            % (res['rc'], res['failed'], res['errors']))
            status = status or res['rc']
        if res['passed'] < args.min_passed:
            failures.append('only %d tests passed, %d required'
                            % (res['passed'], args.min_passed))
            status = status or 3
        if res['skipped'] and not args.allow_skips:
            failures.append('%d tests skipped inside dom0: every test must '
                            'run there' % res['skipped'])
            status = status or 3
    if problem and not failures:
        print('xen: warning: %s' % problem, file=sys.stderr)

    print()
    for note in console.notes:
        print('xen: note: %s' % note)
    print('xen: boot to toolstack %s s, qemu wall %.1f s, console log %s'
          % (host['boot_to_toolstack_s'], host['qemu_wall_s'], args.log))
    if args.measurements:
        print('xen: measurements written to %s' % args.measurements)
    if failures:
        print('xen: ---- last %d console lines ----' % args.tail)
        print(console.tail(args.tail))
        print('xen: ---- FAILED ----')
        for f in failures:
            print('xen: FAILED: %s' % f)
        return status
    print('xen: OK: %(passed)d passed, %(failed)d failed, %(skipped)d '
          'skipped inside dom0' % res)
    return 0


if __name__ == '__main__':
    sys.exit(main())
