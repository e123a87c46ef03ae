"""dom0's page cache, filled on purpose, for the back-off tests.

dom0's root is an initramfs: shmem, which nothing reclaims (no swap), so
a dom0 under tox -e xen has almost no page cache the balloon could take
back. Reading a loop device over a sparse file in /tmp fills the page
cache with the loop device's blocks: clean pages that reclaim can drop,
while the file itself costs nothing (shmem reads a hole as zeros without
allocating a page). tools/xen/dom0-init loads the loop module.

The reader keeps the device open: Linux drops a block device's page
cache when its last opener closes it (blkdev_put -> kill_bdev).
"""

import os
import subprocess
import time

from tests.xen import xenhost

LOOP = '/dev/loop0'
CHUNK = 1024 * 1024


def _losetup(*args):
    subprocess.run(['losetup'] + list(args), check=True,
                   stdin=subprocess.DEVNULL, capture_output=True, timeout=60)


class PageCache:
    """``with PageCache(mb) as cache``: dom0 holds ~mb MiB of clean cache.

    cache.filled_mb is how much dom0's page cache grew while filling
    (Buffers: a block device's cache).
    """

    def __init__(self, mb, path='/tmp/xenballoon-pagecache.img',
                 device=LOOP):
        self.mb = int(mb)
        self.path = path
        self.device = device
        self.fd = None
        self.filled_mb = 0.0
        self.fill_s = 0.0

    def __enter__(self):
        if not os.path.exists(self.device):
            raise RuntimeError('%s is missing: is the loop module loaded '
                               '(tools/xen/dom0-init)?' % self.device)
        with open(self.path, 'wb') as f:
            f.truncate(self.mb * CHUNK)
        _losetup('-r', self.device, self.path)
        try:
            before = xenhost.page_cache_kb()
            t0 = time.monotonic()
            self.fd = os.open(self.device, os.O_RDONLY)
            buf = bytearray(CHUNK)
            for _ in range(self.mb):
                if not os.readv(self.fd, [buf]):
                    break
            self.fill_s = round(time.monotonic() - t0, 2)
            self.filled_mb = round(
                (xenhost.page_cache_kb() - before) / 1024.0, 1)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)  # drops the cache (kill_bdev)
            self.fd = None
        subprocess.run(['losetup', '-d', self.device], check=False,
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=60)
        if os.path.exists(self.path):
            os.unlink(self.path)
