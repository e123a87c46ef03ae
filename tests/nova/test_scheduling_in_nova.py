"""Scheduling inside Nova: the README's config and claims between reports.

The weighing runs Nova's own handler with every weigher of
nova.scheduler.weights.all_weighers plus ours, as nova-scheduler loads
them from [filter_scheduler] weight_classes; the hosts are Nova's
HostState objects, refreshed from ComputeNodes as the resource tracker
saves them (tests/nova/test_scheduler.py, compute_node).
"""

import datetime
import pathlib

import pytest

pytest.importorskip('nova.virt.driver')

from nova.scheduler import filters as nova_filters  # noqa: E402
from nova.scheduler import host_manager  # noqa: E402
from nova.scheduler import weights as nova_weights  # noqa: E402

from nova.virt.xenballoon import scheduler  # noqa: E402
from tests import conftest as base  # noqa: E402
from tests.nova import conftest  # noqa: E402
from tests.nova import test_scheduler as helpers  # noqa: E402

GiB = base.GiB
README = pathlib.Path(__file__).parents[2] / 'README.rst'
OURS = 'nova.virt.xenballoon.scheduler.BalloonTimeWeigher'


def readme_nova_conf():
    """The nova.conf block the README gives for nova-scheduler."""
    lines = README.read_text().splitlines()
    start = next(i for i, line in enumerate(lines)
                 if "for nova-scheduler's nova.conf" in line)
    start = next(i for i in range(start, len(lines))
                 if lines[i].endswith('::')) + 1
    block = []
    for line in lines[start:]:
        if line and not line.startswith('    '):
            break
        block.append(line[4:])
    return '\n'.join(block)


def load_conf(nova_conf, tmp_path, text):
    path = tmp_path / 'nova.conf'
    path.write_text(text)
    nova_conf([], project='nova', default_config_files=[str(path)])


def nova_weighers(nova_conf):
    """The weighers nova-scheduler makes from [filter_scheduler]."""
    classes = nova_weights.HostWeightHandler().get_matching_classes(
        nova_conf.filter_scheduler.weight_classes)
    return [cls() for cls in classes]


@pytest.fixture
def issue_hosts(compute):
    """The issue's case, for a 16 GiB request.

    free-now: 32 GiB, dom0 12 GiB, 8 CPUs: 20 GiB free now.
    ballooning: 96 GiB, dom0 94 GiB, 32 CPUs: 2 GiB free, so dom0 must
    give ~14 GiB back first (~21 s at 680 MiB/s), but in Nova's eyes it
    has three times the free RAM and four times the CPUs.
    """
    shapes = {'free-now': {'total_mb': 32 * GiB, 'dom0_mb': 12 * GiB,
                           'cpus': 8},
              'ballooning': {'total_mb': 96 * GiB, 'dom0_mb': 94 * GiB,
                             'cpus': 32}}
    return {name: helpers.host_state(
        name, compute(host=shape).driver.get_available_resource(
            conftest.NODE)) for name, shape in shapes.items()}


def request(memory_mb):
    """A RequestSpec with what Nova's own weighers read: no server group."""
    spec = helpers.request(memory_mb)
    spec.instance_group = None
    return spec


def balloon_s(state, spec):
    return scheduler.our_state(state, scheduler.our_spec(spec)).balloon_time_s(
        scheduler.our_spec(spec).footprint_mb)


def ranking(weighers, states, spec):
    weighed = nova_weights.HostWeightHandler().get_weighed_objects(
        weighers, list(states), spec)
    return [(w.obj.host, w.weight) for w in weighed]


def test_readme_config_ranks_the_host_with_memory_free_now_first(
        issue_hosts, nova_conf, tmp_path):
    load_conf(nova_conf, tmp_path, readme_nova_conf())
    weighers = nova_weighers(nova_conf)
    names = {type(w).__name__ for w in weighers}
    assert {'RAMWeigher', 'CPUWeigher', 'IoOpsWeigher',
            'BalloonTimeWeigher'} <= names
    spec = request(16 * GiB)
    assert balloon_s(issue_hosts['free-now'], spec) == 0.0
    assert 20.0 < balloon_s(issue_hosts['ballooning'], spec) < 23.0
    ranked = ranking(weighers, issue_hosts.values(), spec)
    assert [host for host, _ in ranked] == ['free-now', 'ballooning']
    # Ours gives free-now 300 and ballooning 300 - 1/s; Nova's RAM and
    # CPU weighers give ballooning 1.0 each.
    (_, first), (_, second) = ranked
    assert first - second > 15.0


def test_the_old_config_sent_the_request_to_the_ballooning_host(
        issue_hosts, nova_conf, tmp_path):
    # What the issue reported: every weigher at 1.0, RAMWeigher wins.
    old = readme_nova_conf().replace('balloon_time_weight_multiplier = 300',
                                     'balloon_time_weight_multiplier = 1')
    load_conf(nova_conf, tmp_path, old)
    ranked = ranking(nova_weighers(nova_conf), issue_hosts.values(),
                     request(16 * GiB))
    assert [host for host, _ in ranked] == ['ballooning', 'free-now']


def test_our_weight_does_not_depend_on_the_other_hosts(
        issue_hosts, compute, nova_conf, tmp_path):
    load_conf(nova_conf, tmp_path, readme_nova_conf())
    ours, = nova_weights.HostWeightHandler().get_matching_classes([OURS])
    spec = request(16 * GiB)
    slow = helpers.host_state('slow', compute(
        host={'total_mb': 256 * GiB, 'dom0_mb': 255 * GiB, 'cpus': 64},
        ).driver.get_available_resource(conftest.NODE))
    two = dict(ranking([ours()], issue_hosts.values(), spec))
    three = dict(ranking([ours()], [*issue_hosts.values(), slow], spec))
    expected = 300.0 * (1 - balloon_s(issue_hosts['ballooning'], spec) / 300)
    assert two['ballooning'] == three['ballooning'] == pytest.approx(expected)
    assert two['free-now'] == three['free-now'] == 300.0
    # And the no-balloon host still comes first with all of Nova's.
    ranked = ranking(nova_weighers(nova_conf),
                     [*issue_hosts.values(), slow], spec)
    assert ranked[0][0] == 'free-now'


def test_second_request_seconds_later_sees_the_first_ones_claim(
        compute, nova_conf):
    """Two select_destinations calls, the compute's claim in between.

    busy: 64 GiB, dom0 56 GiB, floor 4 GiB: 60 GiB available. The first
    40 GiB request is placed and claimed; the compute node is saved with
    the claim in memory_mb_used and num_instances but with the stats of
    the last periodic update. ~20 GiB is left: a second 40 GiB request
    must not pass, a 16 GiB one must.
    """
    drv = compute()
    report = drv.driver.get_available_resource(conftest.NODE)
    nodes = host_manager.HostState('busy', 'busy', 'cell1')
    filt = [scheduler.BalloonMemoryFilter()]
    handler = nova_filters.HostFilterHandler()

    def passes(spec):
        return bool(handler.get_filtered_objects(filt, [nodes], spec))

    then = datetime.datetime.now(datetime.timezone.utc)
    nodes.update(compute=helpers.compute_node('busy', report, (),
                                              updated_at=then))
    first = helpers.request(40 * GiB)
    # Pass 1: passes, and Nova's scheduler consumes it from the state.
    assert passes(first)
    nodes.consume_from_request(first)
    # The claim: the resource tracker saves the node (newer than the
    # state's last consume), so the next pass refreshes from it.
    claimed = helpers.compute_node(
        'busy', report, (40 * GiB,),
        updated_at=nodes.updated + datetime.timedelta(seconds=2))
    nodes.update(compute=claimed)
    assert nodes.num_instances == int(claimed.stats['num_instances']) == 1
    assert claimed.stats['xenballoon_available_mb'] == str(60 * GiB)
    # Pass 2, seconds later, on the refreshed state.
    assert not passes(helpers.request(40 * GiB))
    assert passes(helpers.request(16 * GiB))
    assert not passes(helpers.request(21 * GiB))


def test_stats_and_nova_agree_after_the_periodic_update(compute, nova_conf):
    """After the next report (the guest built) nothing is taken twice."""
    drv = compute()
    from tests.nova import test_compute_driver as cd
    cd.spawn(drv, cd.make_instance(40 * GiB))
    report = drv.driver.get_available_resource(conftest.NODE)
    state = helpers.host_state('busy', report, (40 * GiB,))
    ours = scheduler.our_state(state, scheduler.our_spec(
        helpers.request(16 * GiB)))
    assert ours.available_mb == int(report['stats'][
        'xenballoon_available_mb'])
    assert scheduler.BalloonMemoryFilter().host_passes(
        state, helpers.request(19 * GiB))
    assert not scheduler.BalloonMemoryFilter().host_passes(
        state, helpers.request(21 * GiB))
