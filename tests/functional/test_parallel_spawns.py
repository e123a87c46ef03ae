"""Many spawns at once, from several processes, on one simulated host."""

import json
import os
import subprocess
import sys
import time

import pytest
import yaml

from xenballoon_driver.cmd import base
from xenballoon_driver import driver as driver_mod

HERE = os.path.dirname(__file__)
BATCH = os.path.join(HERE, 'spawn_batch.py')
GiB = 1024
RATE = 4096          # dom0 releases MiB/s
PROCESSES, PER_PROCESS, GUEST = 4, 8, 20 * GiB


@pytest.fixture
def conf_path(tmp_path):
    scenario = {
        'host': {'total_mb': 512 * GiB, 'dom0_mb': 480 * GiB,
                 'dom0_low_mb': 1024},
        'balloon': {'release_rate_mb_s': RATE},
        'build': {'populate_rate_mb_s': 64 * GiB},
    }
    (tmp_path / 'scenario.yaml').write_text(yaml.safe_dump(scenario))
    path = tmp_path / 'xenballoon.conf'
    path.write_text(
        '[xenballoon]\nstate_dir = %s\n'
        'poll_interval = 5\nmin_poll_interval = 0.5\n'
        '[simulator]\nscenario_file = %s\ntime_scale = 10\n' % (
            tmp_path / 'state', tmp_path / 'scenario.yaml'))
    return str(path)


def test_32_spawns_from_4_processes(conf_path):
    drv = driver_mod.XenBalloonDriver(base.load_conf([conf_path])).init_host()
    before = drv.host_status()
    start_at = time.time() + 4.0  # all processes import first
    procs = [subprocess.Popen(
        [sys.executable, BATCH, conf_path, str(start_at)] +
        ['p%dvm%d:%d' % (p, i, GUEST) for i in range(PER_PROCESS)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for p in range(PROCESSES)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        results += [json.loads(line) for line in out.splitlines()]
    assert len(results) == PROCESSES * PER_PROCESS

    admitted = [r for r in results if r['outcome'] == 'running']
    refused = [r for r in results if r['outcome'] != 'running']
    need = GUEST + 2
    fits = before['available_mb'] // need
    # Everyone who fits is admitted and runs; the rest are refused, at
    # reserve (before any waiting), for lack of memory.
    assert len(admitted) == fits, sorted(
        (r['outcome'] == 'NotEnoughMemory', r['error']) for r in refused)
    # NotEnoughMemory comes from ReserveMemory alone, before any wait.
    assert {r['outcome'] for r in refused} == {'NotEnoughMemory'}

    drv = driver_mod.XenBalloonDriver(base.load_conf([conf_path])).init_host(
        recover=False)
    with drv.backend.store.session() as model:
        # No overcommit at any step: dom0 plus every domain's footprint.
        assert model.peak_committed_mb <= model.total_mb
        assert model.contention_s == 0
    running = drv.backend.list_domains()
    assert sorted(d.name for d in running) == sorted(
        r['name'] for r in admitted)
    assert all(d.state == 'running' for d in running)
    assert drv.ledger.figures(drv.backend).reserved_mb == 0

    # Makespan: as long as dom0 takes to release what the admitted need.
    from_dom0 = len(admitted) * need - before['free_mb']
    release_s = from_dom0 / RATE
    makespan = (max(r['ended_s'] for r in admitted) -
                min(r['started_s'] for r in results))
    print('makespan %.1f s for %d admitted, dom0 release %.1f s: %.3f x'
          % (makespan, len(admitted), release_s, makespan / release_s))
    # In scaled real time, 32 processes' start-up and polling cost wall
    # seconds that count as simulated ones (x10 here): measured 1.03-1.08
    # on this 2-core machine (1.03-1.05 at x4). The exact 1.05 bound is
    # held on the virtual clock in
    # tests/unit/flows/test_spawn.py::test_32_concurrent_spawns_makespan.
    assert makespan <= 1.10 * release_s
