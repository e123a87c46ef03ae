"""A private etcd for the tests: its own free ports and data dir.

Debian's etcd-server package gives the binary (tools/ensure-venv.sh
installs it for CI). The tests never use a system etcd on 2379: each
starts its own, restarts it when the test wants etcd gone for a while
(its data dir kept), and kills it at the end.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

from tests import conftest as top


def binary():
    return shutil.which('etcd') or (
        '/usr/bin/etcd' if os.access('/usr/bin/etcd', os.X_OK) else None)


def problem():
    """None if an etcd binary is there; else why the tests cannot run."""
    if binary() is None:
        return ('no etcd binary (apt-get install etcd-server, or '
                'tools/ensure-venv.sh)')
    return None


def require():
    """Skip (fail with XENBALLOON_REQUIRE_SERVICES=1) without etcd."""
    reason = problem()
    if reason:
        if top.require_services():
            pytest.fail('XENBALLOON_REQUIRE_SERVICES=1 but ' + reason,
                        pytrace=False)
        pytest.skip(reason)


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Server:
    """etcd on two free ports of 127.0.0.1 (client, peer), data in root."""

    def __init__(self, root):
        self.root = root
        self.port, self.peer_port = _free_port(), _free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.proc = None

    def start(self, timeout=30):
        peer = 'http://127.0.0.1:%d' % self.peer_port
        with open(os.path.join(self.root, 'etcd.log'), 'ab') as log:
            self.proc = subprocess.Popen(
                [binary(), '--name', 'xbtest',
                 '--data-dir', os.path.join(self.root, 'data'),
                 '--listen-client-urls', self.url,
                 '--advertise-client-urls', self.url,
                 '--listen-peer-urls', peer,
                 '--initial-advertise-peer-urls', peer,
                 '--initial-cluster', 'xbtest=' + peer],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('etcd did not start:\n' + self.log())
            time.sleep(0.05)
        return self

    def answers(self):
        try:
            with urllib.request.urlopen(self.url + '/health', timeout=2) as r:
                return b'"true"' in r.read()
        except OSError:
            return False

    def stop(self):
        """Killed (-9): what it had committed stays in its data dir."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def log(self):
        with open(os.path.join(self.root, 'etcd.log'), errors='replace') as f:
            return f.read()[-3000:]


@contextlib.contextmanager
def running():
    """A started private etcd (skips without the binary); gone after."""
    require()
    root = tempfile.mkdtemp(prefix='xb-etcd-')
    server = Server(root)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
