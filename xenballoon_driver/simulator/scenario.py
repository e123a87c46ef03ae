"""Scenario files: read a YAML scenario into its sections (specs.py).

A scenario is YAML (see README, "Scenario format"). Every field is checked
(fields.py) with the field's name in the error, so a malformed file fails
before anything runs.
"""

import collections
import dataclasses
import importlib.resources
import math
import random

import yaml

from xenballoon_driver import exception
from xenballoon_driver.simulator import fields
from xenballoon_driver.simulator import specs
from xenballoon_driver import validation

REINFLATE_FAULTS = ('error', 'hang', 'ignore')


def from_dict(data, path='<scenario>'):
    if not isinstance(data, dict):
        raise exception.InvalidScenario(
            path=path, reason='the top level must be a mapping with host, '
                              'balloon, build and requests')
    known = {'name', 'host', 'balloon', 'build', 'toolstack', 'driver',
             'guest', 'requests', 'generate', 'hosts'}
    unknown = sorted(set(map(str, data)) - known)
    if unknown:
        raise exception.InvalidScenario(
            path=path, reason='unknown section(s) %s; known: %s' % (
                ', '.join(unknown), ', '.join(sorted(known))))
    sections = {key: fields.convert(cls, data.get(key), key, path)
                for key, cls in specs.HOST_SECTIONS}
    _check_faults(sections['toolstack'], 'toolstack', path)
    sections['driver'] = fields.convert(specs.DriverSpec, data.get('driver'),
                                        'driver', path)
    sections['guest'] = fields.convert(specs.GuestSpec, data.get('guest'),
                                       'guest', path)
    raw_requests = data.get('requests') or []
    if not isinstance(raw_requests, list):
        raise exception.InvalidScenario(path=path,
                                        reason='requests must be a list')
    requests = []
    for i, raw in enumerate(raw_requests):
        req = fields.convert(specs.RequestSpec, raw, 'requests[%d]' % i,
                             path)
        fields.check_name(req.name, 'requests[%d].name' % i, path)
        _check_guest_type(req.guest_type, 'requests[%d]' % i, path)
        requests.append(req)
    if data.get('generate') is not None:
        requests.extend(_generate(data['generate'], path))
    _no_duplicates([r.name for r in requests], 'request', path)
    _check_host(sections['host'], 'host', path)
    _check_cache(sections['host'], sections['balloon'], '', path)
    name = data.get('name') or path
    if not isinstance(name, str):
        raise exception.InvalidScenario(path=path,
                                        reason='name must be text')
    return specs.Scenario(name=name,
                          requests=sorted(requests, key=lambda r: r.at_s),
                          path=path, hosts=_hosts(data, path), **sections)


def _check_faults(toolstack, where, path):
    if toolstack.reinflate_fault not in REINFLATE_FAULTS:
        raise exception.InvalidScenario(
            path=path, reason='%s.reinflate_fault = %r: use one of %s' % (
                where, toolstack.reinflate_fault,
                ', '.join(REINFLATE_FAULTS)))


def _check_guest_type(guest_type, where, path):
    if guest_type not in validation.GUEST_TYPES:
        raise exception.InvalidScenario(
            path=path, reason='%s.guest_type must be one of %s' % (
                where, ', '.join(validation.GUEST_TYPES)))


def _no_duplicates(names, what, path):
    dupes = sorted(n for n, k in collections.Counter(names).items() if k > 1)
    if dupes:
        raise exception.InvalidScenario(
            path=path, reason='duplicate %s name(s): %s' % (
                what, ', '.join(dupes)))


def _check_host(host, where, path):
    if host.dom0_mb + host.xen_mb > host.total_mb:
        raise exception.InvalidScenario(
            path=path, reason='%s.dom0_mb %d + %s.xen_mb %d exceed '
                              '%s.total_mb %d' % (
                                  where, host.dom0_mb, where, host.xen_mb,
                                  where, host.total_mb))
    if host.dom0_low_mb > host.dom0_mb:
        raise exception.InvalidScenario(
            path=path, reason='%s.dom0_low_mb %d is above %s.dom0_mb %d' % (
                where, host.dom0_low_mb, where, host.dom0_mb))


def _check_cache(host, balloon, where, path):
    # Page cache is part of what dom0 holds above what it cannot free.
    room = host.dom0_mb - host.dom0_low_mb
    if balloon.page_cache_mb is not None and balloon.page_cache_mb > room:
        raise exception.InvalidScenario(
            path=path, reason='%sballoon.page_cache_mb %g is more than '
                              'dom0 holds above its low mark (%d MiB)' % (
                                  where, balloon.page_cache_mb, room))


def _generate(raw, path):
    """The requests of a ``generate:`` section (see specs.GenerateSpec)."""
    spec = fields.convert(specs.GenerateSpec, raw, 'generate', path)
    fields.check_name(spec.prefix, 'generate.prefix', path)
    _check_guest_type(spec.guest_type, 'generate', path)
    if spec.min_memory_mb > spec.max_memory_mb:
        raise exception.InvalidScenario(
            path=path, reason='generate.min_memory_mb %d is above '
                              'generate.max_memory_mb %d' % (
                                  spec.min_memory_mb, spec.max_memory_mb))
    rng = random.Random(spec.seed)
    low, high = math.log(spec.min_memory_mb), math.log(spec.max_memory_mb)
    width = len(str(spec.count))
    at = spec.start_s
    requests = []
    for i in range(spec.count):
        size = math.exp(rng.uniform(low, high))
        size = round(size / spec.round_mb) * spec.round_mb
        size = min(spec.max_memory_mb, max(spec.min_memory_mb, size))
        requests.append(specs.RequestSpec(
            name='%s-%0*d' % (spec.prefix, width, i + 1), memory_mb=size,
            vcpus=spec.vcpus, guest_type=spec.guest_type,
            at_s=round(at, 3)))
        if spec.mean_interval_s:
            at += rng.expovariate(1.0 / spec.mean_interval_s)
    return requests


def _hosts(data, path):
    """The ``hosts:`` list, expanded: one Scenario per host.

    Each item is a name, an optional count and overrides of the top-level
    host, balloon, build and toolstack sections. With a count, the item
    makes that many hosts named <name>-1 ... <name>-<count> (zero-padded),
    whose balloon seeds are seed, seed + 1, ... so that their jitter
    differs.
    """
    raw_hosts = data.get('hosts')
    if raw_hosts is None:
        return []
    if not isinstance(raw_hosts, list) or not raw_hosts:
        raise exception.InvalidScenario(
            path=path, reason='hosts must be a non-empty list')
    known = {'name', 'count'} | {key for key, _ in specs.HOST_SECTIONS}
    hosts = []
    for i, raw in enumerate(raw_hosts):
        where = 'hosts[%d]' % i
        if not isinstance(raw, dict):
            raise exception.InvalidScenario(
                path=path, reason='%s must be a mapping' % where)
        entry = fields.convert(specs.HostEntry,
                               {k: v for k, v in raw.items()
                                if k in ('name', 'count')}, where, path)
        unknown = sorted(set(map(str, raw)) - known)
        if unknown:
            raise exception.InvalidScenario(
                path=path, reason='%s: unknown field(s) %s; known: %s' % (
                    where, ', '.join(unknown), ', '.join(sorted(known))))
        fields.check_name(entry.name, where + '.name', path)
        sections = {}
        for key, cls in specs.HOST_SECTIONS:
            base_section = data.get(key) or {}
            override = raw.get(key)
            if override is not None and not isinstance(override, dict):
                raise exception.InvalidScenario(
                    path=path, reason='%s.%s must be a mapping' % (where,
                                                                   key))
            merged = dict(base_section)
            merged.update(override or {})
            sections[key] = fields.convert(cls, merged,
                                           '%s.%s' % (where, key), path)
        _check_host(sections['host'], where + '.host', path)
        _check_cache(sections['host'], sections['balloon'], where + '.',
                     path)
        count = entry.count or 1
        if len(hosts) + count > specs.MAX_HOSTS:
            raise exception.InvalidScenario(
                path=path, reason='%s: more than %d hosts in all' % (
                    where, specs.MAX_HOSTS))
        width = len(str(count))
        for n in range(count):
            name = entry.name
            if entry.count is not None:
                name = '%s-%0*d' % (entry.name, width, n + 1)
            balloon = dataclasses.replace(
                sections['balloon'], seed=sections['balloon'].seed + n)
            hosts.append(specs.Scenario(
                name=name, host=sections['host'], balloon=balloon,
                build=sections['build'], toolstack=sections['toolstack'],
                requests=[], path=path))
    _no_duplicates([h.name for h in hosts], 'host', path)
    return hosts


def load(path=None):
    """Load and check a scenario file; None or '' loads the default."""
    if not path:
        ref = importlib.resources.files(__package__) / 'scenarios'
        path = str(ref / 'default.yaml')
    try:
        with open(path, encoding='utf-8') as f:
            data = yaml.safe_load(f)
    except FileNotFoundError:
        raise exception.InvalidScenario(path=path, reason='no such file')
    except (OSError, UnicodeDecodeError) as err:
        raise exception.InvalidScenario(path=path, reason=str(err))
    except yaml.YAMLError as err:
        reason = 'not valid YAML: %s' % str(err).replace('\n', ' ')
        raise exception.InvalidScenario(path=path, reason=reason)
    return from_dict(data, path)
