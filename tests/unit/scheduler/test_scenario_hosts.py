"""Multi-host scenarios: the hosts: list and the generate: section."""

import copy

import pytest

from xenballoon_driver import exception
from xenballoon_driver.simulator import scenario as scenario_mod

GiB = 1024

FLEET = {
    'name': 'fleet',
    'host': {'dom0_low_mb': 1024, 'xen_mb': 512, 'cpus': 32},
    'balloon': {'release_rate_mb_s': 500, 'seed': 7},
    'hosts': [
        {'name': 'small', 'count': 3,
         'host': {'total_mb': 256 * GiB, 'dom0_mb': 240 * GiB}},
        {'name': 'big',
         'host': {'total_mb': 2048 * GiB, 'dom0_mb': 2000 * GiB,
                  'cpus': 128},
         'balloon': {'release_rate_mb_s': 2000},
         'build': {'populate_rate_mb_s': 4096}},
    ],
    'requests': [{'name': 'web', 'memory_mb': 4 * GiB}],
}


def fleet(**changes):
    data = copy.deepcopy(FLEET)
    data.update(changes)
    return data


def host_item(index, **fields):
    data = copy.deepcopy(FLEET)
    data['hosts'][index].update(fields)
    return data


def bad(data, *fragments):
    with pytest.raises(exception.InvalidScenario) as err:
        scenario_mod.from_dict(data, 'f.yaml')
    message = str(err.value)
    assert message.startswith('Invalid scenario f.yaml: ')
    for fragment in fragments:
        assert fragment in message, message
    assert err.value.exit_code == exception.EXIT_BAD_INPUT


# -- hosts: ---------------------------------------------------------------


def test_hosts_expand_and_override_the_top_level_sections():
    sc = scenario_mod.from_dict(fleet())
    assert [h.name for h in sc.hosts] == ['small-1', 'small-2', 'small-3',
                                          'big']
    small, big = sc.hosts[0], sc.hosts[3]
    assert (small.host.total_mb, small.host.dom0_mb) == (256 * GiB,
                                                         240 * GiB)
    # Top-level values where the item says nothing; defaults after that.
    assert (small.host.xen_mb, small.host.cpus) == (512, 32)
    assert small.balloon.release_rate_mb_s == 500.0
    assert small.build.populate_rate_mb_s == 8192.0
    assert (big.host.cpus, big.balloon.release_rate_mb_s,
            big.build.populate_rate_mb_s) == (128, 2000.0, 4096.0)
    assert big.requests == [] and sc.requests[0].name == 'web'


def test_copies_jitter_differently():
    sc = scenario_mod.from_dict(fleet())
    assert [h.balloon.seed for h in sc.hosts] == [7, 8, 9, 7]


def test_names_are_zero_padded_to_sort():
    sc = scenario_mod.from_dict(fleet(hosts=[
        {'name': 'h', 'count': 12}]))
    assert [h.name for h in sc.hosts][:2] == ['h-01', 'h-02']
    assert sc.hosts[-1].name == 'h-12'


def test_without_hosts_a_scenario_has_one_host():
    sc = scenario_mod.from_dict({'requests': []})
    assert sc.hosts == []
    assert 'hosts' not in sc.to_dict()


def test_to_dict_round_trips_the_expanded_hosts():
    sc = scenario_mod.from_dict(fleet())
    again = scenario_mod.from_dict(sc.to_dict())
    assert again.to_dict() == sc.to_dict()
    assert [h.balloon.seed for h in again.hosts] == [7, 8, 9, 7]


def test_the_shipped_fleet():
    sc = scenario_mod.load(str(scenario_mod.importlib.resources.files(
        'xenballoon_driver.simulator') / 'scenarios' / 'fleet.yaml'))
    assert len(sc.hosts) >= 50 and len(sc.requests) >= 500
    assert {h.host.total_mb for h in sc.hosts} == {
        256 * GiB, 512 * GiB, 1024 * GiB, 2048 * GiB}
    assert all(GiB <= r.memory_mb <= 512 * GiB for r in sc.requests)


@pytest.mark.parametrize('hosts,fragment', [
    ({'name': 'a'}, 'hosts must be a non-empty list'),
    ([], 'hosts must be a non-empty list'),
    (['a'], 'hosts[0] must be a mapping'),
    ([{'count': 2}], 'hosts[0].name is required'),
    ([{'name': 7}], 'hosts[0].name must be text, not 7'),
    ([{'name': 'a b'}], "hosts[0].name: 'a b': use a letter first"),
    ([{'name': 'a', 'size': 1}], 'hosts[0]: unknown field(s) size; known: '
                                 'balloon, build, count, host, name'),
    ([{'name': 'a', 'count': 0}], 'hosts[0].count = 0 is outside 1..'),
    ([{'name': 'a', 'count': 1.5}],
     'hosts[0].count must be a whole number, not 1.5'),
    ([{'name': 'a', 'count': True}], 'hosts[0].count must be a whole'),
    ([{'name': 'a', 'count': 20000}], 'is outside 1..10000'),
    ([{'name': 'a', 'count': 6000}, {'name': 'b', 'count': 6000}],
     'hosts[1]: more than 10000 hosts in all'),
    ([{'name': 'a'}, {'name': 'a'}], 'duplicate host name(s): a'),
    ([{'name': 'a', 'count': 2}, {'name': 'a-1'}],
     'duplicate host name(s): a-1'),
    ([{'name': 'a', 'host': 'big'}], 'hosts[0].host must be a mapping'),
    ([{'name': 'a', 'balloon': {'rate': 1}}],
     'hosts[0].balloon: unknown field(s) rate'),
    ([{'name': 'a', 'build': {1: 2}}], 'hosts[0].build: unknown field(s) 1'),
    ([{'name': 'a', 'balloon': {'release_rate_mb_s': 0}}],
     'hosts[0].balloon.release_rate_mb_s = 0.0 is outside'),
    ([{'name': 'a', 'host': {'cpus': 0}}], 'hosts[0].host.cpus = 0 is '
                                           'outside 1..4096'),
    ([{'name': 'a', 'host': {'total_mb': 64 * GiB}}],
     'hosts[0].host.dom0_mb 983040 + hosts[0].host.xen_mb 512 exceed '
     'hosts[0].host.total_mb 65536'),
    ([{'name': 'a', 'host': {'dom0_low_mb': 4096, 'dom0_mb': 2048}}],
     'hosts[0].host.dom0_low_mb 4096 is above hosts[0].host.dom0_mb 2048'),
])
def test_bad_hosts(hosts, fragment):
    bad(fleet(hosts=hosts), fragment)


def test_a_bad_top_level_default_names_the_top_level_field():
    bad(fleet(balloon={'jitter': 2}), 'balloon.jitter = 2.0 is outside')


# -- generate: ------------------------------------------------------------


GEN = {'count': 200, 'seed': 5, 'prefix': 'vm', 'min_memory_mb': GiB,
       'max_memory_mb': 512 * GiB, 'mean_interval_s': 3}


def generated(**fields):
    return scenario_mod.from_dict(
        {'generate': dict(GEN, **fields)}).requests


def test_generated_requests():
    reqs = generated()
    assert len(reqs) == 200
    assert [r.name for r in reqs[:2]] == ['vm-001', 'vm-002']
    sizes = [r.memory_mb for r in reqs]
    assert all(GiB <= s <= 512 * GiB and s % GiB == 0 for s in sizes)
    # Log-uniform: about as many under 8 GiB as over 64 GiB.
    small = sum(s < 8 * GiB for s in sizes)
    large = sum(s > 64 * GiB for s in sizes)
    assert 40 < small < 100 and 40 < large < 100
    arrivals = [r.at_s for r in reqs]
    assert arrivals[0] == 0 and arrivals == sorted(arrivals)
    assert 400 < arrivals[-1] < 800          # 199 gaps of 3 s on average
    assert {(r.vcpus, r.guest_type) for r in reqs} == {(1, 'pv')}


def test_generated_requests_follow_the_seed():
    assert generated() == generated()
    assert generated() != generated(seed=6)


def test_generated_and_listed_requests_together():
    sc = scenario_mod.from_dict({
        'generate': dict(GEN, count=3, start_s=10),
        'requests': [{'name': 'first', 'memory_mb': 1024}]})
    assert [r.name for r in sc.requests] == ['first', 'vm-1', 'vm-2',
                                             'vm-3']


@pytest.mark.parametrize('fields,fragment', [
    ({'count': None}, 'generate.count is required'),
    ({'count': 0}, 'generate.count = 0 is outside'),
    ({'seed': -1}, 'generate.seed = -1 is outside'),
    ({'prefix': '1x'}, "generate.prefix: '1x': use a letter first"),
    ({'guest_type': 'kvm'}, 'generate.guest_type must be one of pv, pvh'),
    ({'min_memory_mb': 4096, 'max_memory_mb': 1024},
     'generate.min_memory_mb 4096 is above generate.max_memory_mb 1024'),
    ({'mean_interval_s': -1}, 'generate.mean_interval_s = -1.0 is outside'),
    ({'sizes': 'big'}, 'generate: unknown field(s) sizes'),
])
def test_bad_generate(fields, fragment):
    data = {'generate': dict(GEN, **fields)}
    if fields.get('count', 1) is None:
        del data['generate']['count']
    bad(data, fragment)


def test_generated_names_must_not_clash():
    bad({'generate': dict(GEN, count=2),
         'requests': [{'name': 'vm-1', 'memory_mb': 1024}]},
        'duplicate request name(s): vm-1')


def test_generate_must_be_a_mapping():
    bad({'generate': [1, 2]}, 'generate must be a mapping')
