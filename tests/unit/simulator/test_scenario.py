"""Scenario files: the shipped default and every kind of bad input."""

import copy
import importlib.resources

import pytest
import yaml

from xenballoon_driver import exception
from xenballoon_driver.simulator import scenario as scenario_mod

GiB = 1024

GOOD = {
    'name': 'small',
    'host': {'total_mb': 64 * GiB, 'dom0_mb': 56 * GiB,
             'dom0_low_mb': 1024, 'xen_mb': 512},
    'balloon': {'release_rate_mb_s': 1024, 'jitter': 0.1, 'seed': 3},
    'build': {'populate_rate_mb_s': 4096},
    'requests': [
        {'name': 'late', 'memory_mb': 2048, 'at_s': 30},
        {'name': 'early', 'memory_mb': 4096, 'vcpus': 4,
         'guest_type': 'hvm'},
    ],
}


def good(**sections):
    data = copy.deepcopy(GOOD)
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key].update(value)
        else:
            data[key] = value
    return data


def bad(data, *fragments, path='<scenario>'):
    with pytest.raises(exception.InvalidScenario) as err:
        scenario_mod.from_dict(data, path)
    message = str(err.value)
    assert message.startswith('Invalid scenario %s: ' % path)
    for fragment in fragments:
        assert fragment in message
    return err.value


# -- good scenarios -------------------------------------------------------


def test_shipped_default_is_the_2014_host():
    sc = scenario_mod.load()
    assert sc.name == 'default-1tib'
    assert sc.host.total_mb == 1024 * GiB
    assert sc.host.dom0_mb == 960 * GiB
    assert sc.host.xen_mb == 2048
    assert sc.balloon.release_rate_mb_s == 680.0
    assert sc.balloon.jitter == 0.1
    assert sc.balloon.seed == 2014
    assert [(r.name, r.memory_mb, r.at_s) for r in sc.requests] == [
        ('big-160g', 160 * GiB, 0.0), ('small-8g', 8 * GiB, 300.0)]
    assert sc.path.endswith('default.yaml')


def test_shipped_default_models_a_linux_dom0_with_call_costs():
    sc = scenario_mod.load()
    # Debian 12's balloon thread (capture a160), some page cache.
    assert (sc.balloon.max_schedule_delay_s, sc.balloon.max_retry_count) \
        == (20, 4)
    assert 0 < sc.balloon.page_cache_mb < sc.host.dom0_mb - 100 * GiB
    ts = sc.toolstack
    assert (ts.list_s + ts.info_s, ts.create_s) == (
        pytest.approx(0.12), 1.0)


# fleet.yaml's calls are free (its header says why).
SHIPPED = ('default', 'backoff-page-cache', 'backoff-cancel',
           'stall-low-mark', 'xen-qemu')


@pytest.mark.parametrize('name', SHIPPED)
def test_every_shipped_scenario_loads_and_charges_its_calls(name):
    path = str(importlib.resources.files('xenballoon_driver.simulator') /
               'scenarios' / ('%s.yaml' % name))
    sc = scenario_mod.load(path)
    for host in sc.hosts or [sc]:
        ts = host.toolstack
        assert ts.list_s > 0 and ts.info_s > 0 and ts.create_s > 0
        assert ts.mem_set_s > 0 and ts.destroy_s > 0


def test_the_issue_12_fields_load():
    data = good()
    data['balloon'] = {'stall_after_mb': 4096, 'stall_resume_after_s': 30,
                       'decay_half_mb': 65536, 'shortfall_mb': 192,
                       'shortfall_per_gib_mb': 2, 'drift_at_s': 60,
                       'drift_mb': 4096}
    b = scenario_mod.from_dict(data).balloon
    assert (b.stall_resume_after_s, b.decay_half_mb, b.shortfall_mb,
            b.shortfall_per_gib_mb, b.drift_at_s, b.drift_mb) == (
        30.0, 65536.0, 192.0, 2.0, 60.0, 4096.0)
    # Off unless set.
    b = scenario_mod.from_dict(good()).balloon
    assert (b.stall_resume_after_s, b.decay_half_mb, b.shortfall_mb,
            b.drift_at_s) == (None, None, 0.0, None)


def test_empty_path_loads_the_default_too():
    assert scenario_mod.load('').to_dict() == scenario_mod.load().to_dict()


def test_good_scenario_values_defaults_and_order():
    sc = scenario_mod.from_dict(good())
    assert sc.name == 'small'
    assert isinstance(sc.host.total_mb, int)
    assert isinstance(sc.balloon.release_rate_mb_s, float)
    assert sc.balloon.reinflate_rate_mb_s == 1400.0    # default
    assert sc.balloon.stall_after_mb is None           # optional
    assert sc.build.contention_slowdown == 0.5
    # Requests come sorted by arrival time.
    assert [r.name for r in sc.requests] == ['early', 'late']
    early = sc.requests[0]
    assert (early.vcpus, early.guest_type, early.fail_at_fraction) == (
        4, 'hvm', None)
    # 4 GiB HVM, 4 vCPUs: 2048 + 4 * (256 * 4 + 2 * 4096) KiB = 38 MiB.
    assert early.footprint_mb == 4096 + 38
    assert sc.requests[1].footprint_mb == 2048 + 2


def test_whole_float_is_accepted_for_an_int_field():
    sc = scenario_mod.from_dict(good(host={'total_mb': 65536.0}))
    assert sc.host.total_mb == 65536
    assert isinstance(sc.host.total_mb, int)


def test_missing_sections_take_defaults():
    sc = scenario_mod.from_dict({}, 'mine.yaml')
    assert sc.name == 'mine.yaml'
    assert sc.host.total_mb == 1024 * GiB
    assert sc.requests == []


def test_to_dict_round_trips():
    sc = scenario_mod.from_dict(good())
    again = scenario_mod.from_dict(sc.to_dict())
    assert again.to_dict() == sc.to_dict()


def test_load_reads_a_file(tmp_path):
    path = tmp_path / 'host.yaml'
    path.write_text(yaml.safe_dump(good()))
    sc = scenario_mod.load(str(path))
    assert sc.path == str(path)
    assert sc.host.xen_mb == 512


# -- bad scenarios ------------------------------------------------------


def test_unknown_section():
    bad(good(hostz={}), 'unknown section(s) hostz', 'known: balloon')


def test_unknown_field_names_it_and_the_known_ones():
    err = bad(good(host={'totl_mb': 1}), 'host: unknown field(s) totl_mb',
              'total_mb')
    assert err.path == '<scenario>'
    bad(good(balloon={'rate': 1}), 'balloon: unknown field(s) rate')
    bad(good(requests=[{'name': 'a', 'memory_mb': 1, 'mem': 2}]),
        'requests[0]: unknown field(s) mem')


def test_unknown_fields_of_mixed_key_types():
    bad(good(host={1: 2, 'x': 3}), 'host: unknown field(s) 1, x')


@pytest.mark.parametrize('section,field', [
    ('host', 'total_mb'), ('balloon', 'release_rate_mb_s'),
    ('balloon', 'seed'), ('build', 'fail_at_fraction')])
def test_bool_is_not_a_number(section, field):
    bad(good(**{section: {field: True}}), '%s.%s must be' % (section, field),
        'not True')


@pytest.mark.parametrize('section,field,value', [
    ('host', 'total_mb', 65536.5),
    ('host', 'xen_mb', 0.25),
    ('balloon', 'seed', 1.5),
])
def test_fractional_float_for_an_int(section, field, value):
    bad(good(**{section: {field: value}}),
        '%s.%s must be a whole number, not %r' % (section, field, value))


@pytest.mark.parametrize('value', [float('nan'), float('inf')])
def test_non_finite_numbers(value):
    bad(good(balloon={'release_rate_mb_s': value}),
        'balloon.release_rate_mb_s must be a number')


@pytest.mark.parametrize('section,field,value', [
    ('host', 'total_mb', 1023),
    ('host', 'total_mb', 16 * 1024 * 1024 + 1),
    ('host', 'dom0_low_mb', 127),
    ('host', 'xen_mb', -1),
    ('balloon', 'release_rate_mb_s', 0),
    ('balloon', 'jitter', 0.96),
    ('balloon', 'start_delay_s', 3601),
    ('balloon', 'stall_after_mb', -5),
    ('build', 'fail_at_fraction', 1.5),
    ('build', 'contention_slowdown', 0),
])
def test_out_of_range(section, field, value):
    bad(good(**{section: {field: value}}),
        '%s.%s = ' % (section, field), 'is outside')


def test_out_of_range_names_the_bounds():
    bad(good(balloon={'jitter': 0.99}),
        'balloon.jitter = 0.99 is outside 0.0..0.95')


def test_a_section_that_is_not_a_mapping():
    bad(good(host=[1, 2]), 'host must be a mapping')
    bad(good(balloon='fast'), 'balloon must be a mapping')


def test_requests_must_be_a_list():
    bad(good(requests={'name': 'a'}), 'requests must be a list')


def test_a_request_that_is_not_a_mapping():
    bad(good(requests=['web']), 'requests[0] must be a mapping')


def test_missing_request_name():
    bad(good(requests=[{'memory_mb': 1024}]), 'requests[0].name is required')


def test_missing_request_memory():
    bad(good(requests=[{'name': 'a'}, {'name': 'b'}]),
        'requests[0].memory_mb is required')


def test_request_name_must_be_text():
    bad(good(requests=[{'name': 1234, 'memory_mb': 1}]),
        'requests[0].name must be text, not 1234')


@pytest.mark.parametrize('name', [
    '', '1234', 'a b', 'a/b', "it's", 'a;rm', '$(x)', 'x' * 65, '-a'])
def test_bad_request_names(name):
    bad(good(requests=[{'name': 'ok', 'memory_mb': 1},
                       {'name': name, 'memory_mb': 1}]),
        'requests[1].name: ')


def test_bad_request_name_gives_the_reason():
    bad(good(requests=[{'name': 'a b', 'memory_mb': 1}]),
        "requests[0].name: 'a b': use a letter first")


def test_request_name_with_a_trailing_newline():
    bad(good(requests=[{'name': 'web\n', 'memory_mb': 1}]),
        'requests[0].name: ')


def test_invalid_yaml(tmp_path):
    path = tmp_path / 'bad.yaml'
    path.write_text('host: [unclosed\n  total_mb: 1\n')
    with pytest.raises(exception.InvalidScenario) as err:
        scenario_mod.load(str(path))
    message = str(err.value)
    assert str(path) in message
    assert 'not valid YAML' in message
    assert '\n' not in message


def test_empty_yaml_file(tmp_path):
    path = tmp_path / 'empty.yaml'
    path.write_text('')
    with pytest.raises(exception.InvalidScenario,
                       match='top level must be a mapping'):
        scenario_mod.load(str(path))


def test_missing_file(tmp_path):
    path = tmp_path / 'nope.yaml'
    with pytest.raises(exception.InvalidScenario) as err:
        scenario_mod.load(str(path))
    assert str(err.value) == 'Invalid scenario %s: no such file' % path
    assert err.value.exit_code == exception.EXIT_BAD_INPUT


def test_not_utf8_file(tmp_path):
    path = tmp_path / 'latin1.yaml'
    path.write_bytes(b'name: caf\xe9\n')
    with pytest.raises(exception.InvalidScenario, match=str(path)):
        scenario_mod.load(str(path))


def test_bad_field_in_a_file_names_the_file_and_field(tmp_path):
    path = tmp_path / 'host.yaml'
    path.write_text(yaml.safe_dump(good(balloon={'jitter': 'high'})))
    with pytest.raises(exception.InvalidScenario) as err:
        scenario_mod.load(str(path))
    assert str(path) in str(err.value)
    assert "balloon.jitter must be a number, not 'high'" in str(err.value)


# -- build failures by domain name ------------------------------------------

def test_fail_domains_by_name():
    sc = scenario_mod.from_dict(good(build={'fail_domains': {'web-1': 0.5,
                                                             'db': 0}}))
    assert sc.build.fail_domains == {'web-1': 0.5, 'db': 0.0}
    assert scenario_mod.from_dict(good()).build.fail_domains is None


@pytest.mark.parametrize('value, fragment', [
    (['web-1'], 'build.fail_domains must be a mapping of domain names'),
    ({'web 1': 0.5}, 'build.fail_domains key: '),
    ({'web-1': 1.5}, 'build.fail_domains.web-1 = 1.5 is outside 0.0..1.0'),
    ({'web-1': 'half'}, 'build.fail_domains.web-1 must be a number'),
    ({'web-1': True}, 'build.fail_domains.web-1 must be a number'),
])
def test_bad_fail_domains(value, fragment):
    bad(good(build={'fail_domains': value}), fragment)
