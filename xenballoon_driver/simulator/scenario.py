"""Scenario files: a simulated host, its balloon, its builds, and requests.

A scenario is YAML (see README, "Scenario format"). Every field is checked
here with the field's name in the error, so a malformed file fails before
anything runs.
"""

import dataclasses
import importlib.resources
import math

import yaml

from xenballoon_driver.balloon import footprint
from xenballoon_driver import exception
from xenballoon_driver import validation

GiB = 1024


def _field(default, lo=None, hi=None, kind=float, optional=False):
    return dataclasses.field(default=default, metadata={
        'lo': lo, 'hi': hi, 'kind': kind, 'optional': optional})


@dataclasses.dataclass
class HostSpec:
    total_mb: int = _field(1024 * GiB, 1024, validation.MAX_MEMORY_MB, int)
    dom0_mb: int = _field(960 * GiB, 256, validation.MAX_MEMORY_MB, int)
    # The balloon driver's low mark: dom0 cannot shrink below it.
    dom0_low_mb: int = _field(2048, 128, validation.MAX_MEMORY_MB, int)
    # Memory Xen keeps for itself (heap, frame table): never free.
    xen_mb: int = _field(0, 0, validation.MAX_MEMORY_MB, int)


@dataclasses.dataclass
class BalloonSpec:
    release_rate_mb_s: float = _field(680.0, 0.001, 1.0e6)
    reinflate_rate_mb_s: float = _field(1400.0, 0.001, 1.0e6)
    # Each simulated second's rate is multiplied by 1 +/- jitter.
    jitter: float = _field(0.0, 0.0, 0.95)
    start_delay_s: float = _field(0.0, 0.0, 3600.0)
    # Stop releasing after this many MiB in all (a stuck balloon).
    stall_after_mb: float = _field(None, 0.0, 1.0e9, optional=True)
    # Someone raises dom0's target by grow_back_mb, grow_back_after_s after
    # the first balloon request; dom0 grows back towards it.
    grow_back_after_s: float = _field(None, 0.0, 1.0e6, optional=True)
    grow_back_mb: float = _field(0.0, 0.0, 1.0e9)
    # Pages Xen loses while dom0 balloons (IOMMU large-page splits): free
    # memory dips by dip_mb for dip_duration_s, from dip_at_s.
    dip_at_s: float = _field(None, 0.0, 1.0e6, optional=True)
    dip_mb: float = _field(0.0, 0.0, 1.0e9)
    dip_duration_s: float = _field(0.0, 0.0, 1.0e6)
    seed: int = _field(1, 0, 2 ** 31, int)


@dataclasses.dataclass
class BuildSpec:
    populate_rate_mb_s: float = _field(8192.0, 0.001, 1.0e7)
    # A build fails once this fraction of its memory is populated.
    fail_at_fraction: float = _field(None, 0.0, 1.0, optional=True)
    # While a build contends with a running balloon, the balloon runs at
    # this fraction of its rate.
    contention_slowdown: float = _field(0.5, 0.01, 1.0)


@dataclasses.dataclass
class RequestSpec:
    name: str = _field(None, kind=str)
    memory_mb: int = _field(None, 1, validation.MAX_MEMORY_MB, int)
    vcpus: int = _field(1, 1, validation.MAX_VCPUS, int)
    guest_type: str = _field('pv', kind=str)
    at_s: float = _field(0.0, 0.0, 1.0e7)
    fail_at_fraction: float = _field(None, 0.0, 1.0, optional=True)

    @property
    def footprint_mb(self):
        return footprint.footprint_mb(self.memory_mb, self.vcpus,
                                      self.guest_type)


@dataclasses.dataclass
class Scenario:
    name: str
    host: HostSpec
    balloon: BalloonSpec
    build: BuildSpec
    requests: list
    path: str = ''

    def to_dict(self):
        return {'name': self.name,
                'host': dataclasses.asdict(self.host),
                'balloon': dataclasses.asdict(self.balloon),
                'build': dataclasses.asdict(self.build),
                'requests': [dataclasses.asdict(r) for r in self.requests]}


def _convert(cls, data, where, path):
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise exception.InvalidScenario(
            path=path, reason='%s must be a mapping' % where)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(map(str, data)) - set(fields))
    if unknown:
        raise exception.InvalidScenario(
            path=path, reason='%s: unknown field(s) %s; known: %s' % (
                where, ', '.join(map(str, unknown)), ', '.join(fields)))
    values = {}
    for name, field in fields.items():
        meta = field.metadata
        value = data.get(name, field.default)
        label = '%s.%s' % (where, name)
        if value is None:
            if meta['optional']:
                values[name] = None
                continue
            raise exception.InvalidScenario(
                path=path, reason='%s is required' % label)
        kind = meta['kind']
        if kind is str:
            if not isinstance(value, str):
                raise exception.InvalidScenario(
                    path=path, reason='%s must be text, not %r' % (label,
                                                                   value))
        else:
            ok = isinstance(value, (int, float)) and not isinstance(value,
                                                                    bool)
            if ok and kind is int and isinstance(value, float):
                ok = value.is_integer()
            if not ok or not math.isfinite(value):
                raise exception.InvalidScenario(
                    path=path, reason='%s must be a%s number, not %r' % (
                        label, ' whole' if kind is int else '', value))
            value = kind(value)
            lo, hi = meta['lo'], meta['hi']
            if (lo is not None and value < lo) or (hi is not None and
                                                   value > hi):
                raise exception.InvalidScenario(
                    path=path, reason='%s = %s is outside %s..%s' % (
                        label, value, lo, hi))
        values[name] = value
    return cls(**values)


def from_dict(data, path='<scenario>'):
    if not isinstance(data, dict):
        raise exception.InvalidScenario(
            path=path, reason='the top level must be a mapping with host, '
                              'balloon, build and requests')
    known = {'name', 'host', 'balloon', 'build', 'requests'}
    unknown = sorted(set(map(str, data)) - known)
    if unknown:
        raise exception.InvalidScenario(
            path=path, reason='unknown section(s) %s; known: %s' % (
                ', '.join(unknown), ', '.join(sorted(known))))
    host = _convert(HostSpec, data.get('host'), 'host', path)
    balloon = _convert(BalloonSpec, data.get('balloon'), 'balloon', path)
    build = _convert(BuildSpec, data.get('build'), 'build', path)
    raw_requests = data.get('requests') or []
    if not isinstance(raw_requests, list):
        raise exception.InvalidScenario(path=path,
                                        reason='requests must be a list')
    requests = []
    for i, raw in enumerate(raw_requests):
        req = _convert(RequestSpec, raw, 'requests[%d]' % i, path)
        try:
            validation.domain_name(req.name)
        except exception.InvalidInput as err:
            raise exception.InvalidScenario(
                path=path, reason='requests[%d].name: %s' % (i, err.reason))
        if req.guest_type not in footprint.GUEST_TYPES:
            raise exception.InvalidScenario(
                path=path, reason='requests[%d].guest_type must be one of '
                                  '%s' % (i, ', '.join(footprint.GUEST_TYPES)))
        requests.append(req)
    names = [r.name for r in requests]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise exception.InvalidScenario(
            path=path, reason='duplicate request name(s): %s' % ', '.join(
                dupes))
    if host.dom0_mb + host.xen_mb > host.total_mb:
        raise exception.InvalidScenario(
            path=path, reason='host.dom0_mb %d + host.xen_mb %d exceed '
                              'host.total_mb %d' % (host.dom0_mb, host.xen_mb,
                                                    host.total_mb))
    if host.dom0_low_mb > host.dom0_mb:
        raise exception.InvalidScenario(
            path=path, reason='host.dom0_low_mb %d is above host.dom0_mb %d'
            % (host.dom0_low_mb, host.dom0_mb))
    name = data.get('name') or path
    if not isinstance(name, str):
        raise exception.InvalidScenario(path=path,
                                        reason='name must be text')
    return Scenario(name=name, host=host, balloon=balloon, build=build,
                    requests=sorted(requests, key=lambda r: r.at_s),
                    path=path)


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
