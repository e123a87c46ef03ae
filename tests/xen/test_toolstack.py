"""The real toolstack as the driver will find it: xl, dom0's balloon, guests.

These need only xl; they check the test machine itself and measure the
figures the simulator is fitted to (balloon rates, create and destroy
times).
"""

import time

from tests.xen import xenhost


def test_toolstack_reports_host_and_dom0(measure):
    info = xenhost.xl_info()
    total, free = int(info['total_memory']), int(info['free_memory'])
    dom0 = xenhost.domains()['Domain-0']
    b = xenhost.balloon()
    assert total > free > 0
    assert dom0[0] == 0
    # xl's Mem column and the balloon's sysfs agree at rest.
    assert abs(dom0[1] - b['current_kb'] // 1024) <= 2
    assert b['target_kb'] == b['current_kb']
    measure.record('host', total_mb=total, free_mb=free, dom0_mb=dom0[1],
                   xen_version=info.get('xen_version'),
                   balloon_kb=b, dom0_meminfo_kb=xenhost.meminfo(),
                   backoff=xenhost.backoff(),
                   free_plus_dom0_mb=free + dom0[1])


def test_dom0_balloon_rates(measure, dom0_restored):
    """dom0 down 256 MiB and back: release and re-inflate rates."""
    start = dom0_restored['current_kb'] // 1024
    low = start - 256
    free0 = xenhost.free_mb()
    with xenhost.Sampler(0.1) as down:
        xenhost.xl('mem-set', '0', '%dm' % low)
        assert xenhost.wait_dom0_settled(low, timeout=120, slack_mb=1)
        t_down = time.monotonic() - down.t0
    free1 = xenhost.free_mb()
    assert free1 >= free0 + 250
    with xenhost.Sampler(0.1) as up:
        xenhost.xl('mem-set', '0', '%dm' % start)
        assert xenhost.wait_dom0_settled(start, timeout=120, slack_mb=1)
        t_up = time.monotonic() - up.t0
    rates = {k: v for k, v in down.rates().items() if k.startswith('down')}
    rates.update({k: v for k, v in up.rates().items() if k.startswith('up')})
    measure.record('dom0_balloon_256', from_mb=start, to_mb=low,
                   down_s=round(t_down, 2), up_s=round(t_up, 2),
                   free_before_mb=free0, free_after_mb=free1,
                   down_series=down.series(), up_series=up.series(), **rates)


def test_pvgrub_guest_create_and_destroy(measure, tmp_path):
    cfg = xenhost.write_guest_config(str(tmp_path / 'tsg.cfg'), 'tsg', 64)
    free0 = xenhost.free_mb()
    t0 = time.monotonic()
    try:
        xenhost.xl('create', cfg)
        t_create = time.monotonic() - t0
        doms = xenhost.domains()
        assert 'tsg' in doms
        assert doms['tsg'][1] == 64
        # pvgrub really runs: its CPU time moves.
        assert xenhost.wait_for(
            lambda: xenhost.domains()['tsg'][2] in ('r-----', '-b----',
                                                    '------'), 30)
        t1 = time.monotonic()
        xenhost.xl('destroy', 'tsg')
        t_destroy = time.monotonic() - t1
    finally:
        xenhost.destroy_quietly('tsg')
    assert 'tsg' not in xenhost.domains()
    assert xenhost.wait_for(lambda: xenhost.free_mb() >= free0 - 1, 30)
    measure.record('pvgrub_64', create_s=round(t_create, 2),
                   destroy_s=round(t_destroy, 2))
