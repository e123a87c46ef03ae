"""16 spawns at once where 12 fit, while ``recover`` runs in a loop.

Recovery must never touch a flow that a live process holds, nor re-run
one that finished between its look and its lock (issue 9: recovery
reverted finished spawns, leaving guests the ledger did not know). Each
spawn is a process of its own; another process runs ``xenballoon
recover`` over and over meanwhile, and the test samples the ledger and
the host together all along. On SQLite, PostgreSQL and MariaDB,
XENBALLOON_CONCURRENT_RUNS times each (default 1; tools/crash_soak.py
sets it higher).
"""

import os
import threading

import pytest

from tests.functional import kill_harness as kh

GiB = kh.GiB
SPAWNS = 16
# The host can take 61440 MiB (8 GiB free, dom0 down to its 4 GiB
# floor); each guest needs 5000 MiB with its overhead: 12 fit, with
# room to spare for the MiB that looks at a moving balloon round down.
GUEST_MB = 4998
FIT = 12
RUNS = int(os.environ.get('XENBALLOON_CONCURRENT_RUNS', '1'))


def scenario():
    # dom0 releases 1 GiB/s: the 52 GiB the guests take from it come in
    # 52 simulated seconds, 2.6 s of real time at time_scale 20, while
    # the recover loop goes round several times.
    scenario = kh.small_scenario()
    scenario['balloon']['release_rate_mb_s'] = 1024
    return scenario


class Sampler(threading.Thread):
    """Samples the ledger and the host, together, until stopped."""

    def __init__(self, conf):
        super().__init__(daemon=True)
        self.drv = kh.driver(conf)
        self.stop = threading.Event()
        self.samples = []
        self.error = None

    def run(self):
        try:
            while not self.stop.wait(0.05):
                self.samples.append(kh.host_sample(self.drv))
        except Exception as err:  # reported by the test
            self.error = err


@pytest.mark.parametrize('run', range(RUNS))
def test_spawns_while_recover_loops(db_url, tmp_path, tmp_path_factory,
                                    run):
    zygote = kh.zygote(tmp_path_factory)
    conf = kh.write_host(tmp_path / 'host', db_url, scenario(),
                         time_scale=20)
    assert kh.driver(conf).host_status()['available_mb'] // (
        GUEST_MB + 2) == FIT
    sampler = Sampler(conf)
    sampler.start()
    spawns = {'g%02d' % i: zygote.start(
        conf, 'spawn', 'g%02d' % i, '--memory-mb', GUEST_MB, '-f', 'json')
        for i in range(SPAWNS)}
    recovers = []
    while not all(job.done.is_set() for job in spawns.values()):
        recovers.append(zygote.run(conf, 'recover', '-f', 'json'))
    results = {name: job.wait() for name, job in spawns.items()}
    sampler.stop.set()
    sampler.join()
    assert sampler.error is None, sampler.error

    problems = []
    for result in recovers:
        if result.rc:
            problems.append('recover exits %d: %s' % (
                result.rc, result.stderr.strip().splitlines()[-1:]))
            continue
        for row in result.json():
            if row['what'] in ('flow', 'unknown-domain'):
                # Only crashes leave flows to recover, and there was none:
                # any flow recovery acted on (or quarantined) was live.
                problems.append('a recover during the run: %s' % row)
    ran = sorted(name for name, r in results.items() if r.rc == 0)
    refused = sorted(name for name, r in results.items() if r.rc == 3)
    others = {name: (r.rc, r.stderr.strip().splitlines()[-1:])
              for name, r in results.items() if r.rc not in (0, 3)}
    if others:
        problems.append('spawns that neither ran nor were refused: %s' %
                        others)
    if len(ran) != FIT:
        problems.append('%d spawns ran, %d fit: %s; refused: %s' % (
            len(ran), FIT, ran, [results[name].stderr.strip().splitlines()[
                -1:] for name in refused]))
    over = [s for s in sampler.samples if s[0] > s[1] + 1e-6]
    if over:
        problems.append('%d of %d samples: ledger + guests + Xen > total, '
                        'e.g. %s' % (len(over), len(sampler.samples),
                                     over[0]))
    unknown = sorted({n for s in sampler.samples for n in s[2]})
    if unknown:
        problems.append('domains the ledger did not know: %s' % unknown)

    running = {d.name for d in kh.driver(conf).list_domains()
               if d.state == 'running'}
    reverted = sorted(set(ran) - running)
    if reverted:
        problems.append('finished spawns reverted: %s' % reverted)
    final = zygote.run(conf, 'recover', '-f', 'json')
    problems += kh.consistency_problems(conf, final.json())
    assert not problems, '%d recovers during the run, %d samples\n%s' % (
        len(recovers), len(sampler.samples),
        '\n'.join(dict.fromkeys(problems)))
    assert refused == sorted(set(spawns) - set(ran))
