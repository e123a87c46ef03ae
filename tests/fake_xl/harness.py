"""Using the fake xl from a test: one fake host per FakeXl.

FakeXl writes a small shell wrapper that runs tests/fake_xl/xl with this
test run's interpreter (sys.executable) and the host's settings, so
``[xl] command`` can point at it whatever python3 is on PATH. Faults come
from the FAKE_XL_FAULT environment variable (monkeypatch.setenv), which
the wrapper passes through.
"""

import contextlib
import json
import os
import shlex
import sys

import yaml

from tests.fake_xl import fakexl

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, 'xl')
FIXTURES = os.path.join(HERE, 'fixtures')
SHIPPED_XL_CONF = os.path.join(FIXTURES, 'a025_etc_xen_xl.conf_shipped',
                               'stdout')
# Fast enough that GiB of ballooning take milliseconds of real time.
TIME_SCALE = 1000.0


class FakeXl:
    """A fake xl and the simulated host behind it, under ``root``."""

    def __init__(self, root, scenario=None, time_scale=TIME_SCALE,
                 claim_mode=None, dom0_max_mb=None):
        """Write the wrapper, the host's xl.conf and a guest kernel.

        scenario: a scenario dict (None: the captured 2 GiB host);
        claim_mode: None leaves xl.conf as shipped (claims on by default),
        0 or 1 writes claim_mode=N into it.
        """
        os.makedirs(root, exist_ok=True)
        self.root = str(root)
        self.state = os.path.join(self.root, 'host.json')
        self.log = os.path.join(self.root, 'calls.jsonl')
        self.xl_conf = os.path.join(self.root, 'xl.conf')
        self.kernel = os.path.join(self.root, 'vmlinuz')
        self.command = os.path.join(self.root, 'xl')
        with open(SHIPPED_XL_CONF, encoding='utf-8') as f:
            text = f.read()
        if claim_mode is not None:
            text += '\nclaim_mode=%d\n' % claim_mode
        with open(self.xl_conf, 'w', encoding='utf-8') as f:
            f.write(text)
        with open(self.kernel, 'wb') as f:
            f.write(b'\x7fELF fake guest kernel\n')
        # "xenconsoled --log=guest" of this fake host.
        self.console_dir = os.path.join(self.root, 'console')
        env = {'FAKE_XL_STATE': self.state, 'FAKE_XL_LOG': self.log,
               'FAKE_XL_CONSOLE_DIR': self.console_dir,
               'FAKE_XL_CONF': self.xl_conf,
               'FAKE_XL_TIME_SCALE': repr(float(time_scale))}
        if scenario is not None:
            path = os.path.join(self.root, 'scenario.yaml')
            with open(path, 'w', encoding='utf-8') as f:
                yaml.safe_dump(scenario, f)
            env['FAKE_XL_SCENARIO'] = path
        if dom0_max_mb is not None:
            env['FAKE_XL_DOM0_MAX_MB'] = str(dom0_max_mb)
        lines = ['#!/bin/sh']
        lines += ['export %s=%s' % (key, shlex.quote(value))
                  for key, value in sorted(env.items())]
        lines.append('exec %s %s "$@"' % (shlex.quote(sys.executable),
                                          shlex.quote(SCRIPT)))
        with open(self.command, 'w', encoding='utf-8') as f:
            f.write('\n'.join(lines) + '\n')
        os.chmod(self.command, 0o755)
        self.env = env

    def configure(self, conf, **xl_options):
        """Point ``conf`` at this fake: [hypervisor] driver = xl etc."""
        conf.flags(group='hypervisor', driver='xl')
        # dom0 through xl, never the machine's own sysfs.
        # The kernel is this fake's own, in a directory the test user
        # (root where xl runs) holds.
        options = {'command': self.command, 'guest_kernel': self.kernel,
                   'xl_conf': self.xl_conf, 'dom0_balloon_dir': '',
                   'guest_image_dirs': [self.root],
                   'guest_disk_dirs': [self.root],
                   'console_log_dir': self.console_dir}
        options.update(xl_options)
        conf.flags(group='xl', **options)
        return conf

    @contextlib.contextmanager
    def host(self):
        """The HostModel as the fake sees it now; changes are kept."""
        with fakexl.Host(self.env).session() as (model, extra, scale):
            yield model

    def model(self):
        with self.host() as model:
            return model

    def calls(self):
        """Every xl call so far: [argv without the program], in order."""
        return [entry['argv'] for entry in self._log()]

    def pids(self):
        return [entry['pid'] for entry in self._log()]

    def _log(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log, encoding='utf-8') as f:
            return [json.loads(line) for line in f if line.strip()]

    def subcommands(self):
        return [argv[0] for argv in self.calls() if argv]
