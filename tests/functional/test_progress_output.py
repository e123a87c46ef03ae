"""What ``spawn`` shows while dom0 balloons, when stderr is no terminal."""

import re

from tests.functional import base

LINE = re.compile(r'balloon: (\d+)/(\d+) MiB freed for (\S+), (\d+) MiB/s, '
                  r'ETA (\S+), dom0 at (\d+) MiB')


def test_plain_progress_lines_on_stderr(make_host):
    # 32 GiB from dom0 at 1 GiB/s: 32 simulated s, a line every 5 s at
    # most; 3.2 s of real time. A machine busy enough to keep the spawn
    # off the CPU that long may show only the last line: that is a
    # legitimate outcome, checked as such, not a failure.
    host = make_host(
        base.small_scenario(balloon={'release_rate_mb_s': 1024}),
        time_scale=10)
    memory_mb = 40 * base.GiB
    target = 64 * base.GiB - base.pv_footprint(memory_mb)
    result = host.run('spawn', 'pg1', '--memory-mb', memory_mb)
    assert result.rc == 0, result
    assert '\r' not in result.stderr   # no progress bar without a tty

    lines = [line for line in result.stderr.splitlines()
             if line.startswith('balloon:')]
    assert lines, result
    rows = []
    for line in lines:
        match = LINE.fullmatch(line)
        assert match, line
        released, total, name, _rate, eta, dom0 = match.groups()
        assert name == 'pg1'
        rows.append((int(released), int(total), eta, int(dom0)))
    released = [r[0] for r in rows]
    dom0 = [r[3] for r in rows]
    assert released == sorted(released)
    assert dom0 == sorted(dom0, reverse=True)
    if len(rows) > 1:
        assert released[-1] > released[0]
    # The last line: everything freed, dom0 at its target.
    last = rows[-1]
    assert last[0] == last[1]
    assert last[2] == '0s'
    assert last[3] == target
