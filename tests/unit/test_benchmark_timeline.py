"""tools/benchmark.py's timeline recording (tox -e bench's plots)."""

import os
import sys

from tests import conftest
from xenballoon_driver.simulator import runner

TOOLS = os.path.join(os.path.dirname(__file__), '..', '..', 'tools')


def test_recorded_run_samples_the_host_and_ends_like_simulate(conf):
    sys.path.insert(0, TOOLS)
    try:
        import benchmark
    finally:
        sys.path.remove(TOOLS)
    scenario = conftest.make_scenario(requests=[
        {'name': 'vm1', 'memory_mb': 20 * conftest.GiB}])
    samples, events, ends = benchmark.run_recorded(scenario, 'progress',
                                                   conf, 60.0)
    expected, = runner.run(scenario, 'progress', conf)
    (name, ended_at, outcome), = ends
    assert (name, outcome) == ('vm1', runner.RUNNING)
    assert ended_at == expected.ended_at_s
    # Sampled up to the horizon; dom0 went down and the domain ran.
    assert samples[-1][0] >= 60.0
    assert min(s[1] for s in samples) < samples[0][1]
    assert ('vm1' in {e[1] for e in events} and
            events[-1][2] == 'running')
