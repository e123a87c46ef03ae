"""Scenario files: a simulated host, its balloon, its builds, and requests.

A scenario is YAML (see README, "Scenario format"). Every field is checked
here with the field's name in the error, so a malformed file fails before
anything runs.
"""

import collections
import dataclasses
import importlib.resources
import math
import random

import yaml

from xenballoon_driver import exception
from xenballoon_driver.hypervisor import footprint
from xenballoon_driver import validation

GiB = 1024
REINFLATE_FAULTS = ('error', 'hang', 'ignore')
MAX_HOST_CPUS = 4096
# At most this many hosts (after count) and generated requests.
MAX_HOSTS = 10000
MAX_GENERATED = 100000


def _field(default, lo=None, hi=None, kind=float, optional=False):
    return dataclasses.field(default=default, metadata={
        'lo': lo, 'hi': hi, 'kind': kind, 'optional': optional})


@dataclasses.dataclass
class HostSpec:
    total_mb: int = _field(1024 * GiB, 1024, validation.MAX_MEMORY_MB, int)
    dom0_mb: int = _field(960 * GiB, 256, validation.MAX_MEMORY_MB, int)
    # Where dom0's balloon stalls: dom0 cannot shrink below it (what it
    # cannot free: unreclaimable memory and the kernel's reserve; 262-272
    # MiB for the 1.5 GiB dom0 of /work/shared/xenlab/captures, runs b009
    # and c007). Not sysfs info/low_kb: that is the memory IN the balloon
    # (262144 KiB at boot, a031; 786432 after mem-set 1024m, a160).
    dom0_low_mb: int = _field(2048, 128, validation.MAX_MEMORY_MB, int)
    # Memory Xen keeps for itself (heap, frame table): never free.
    xen_mb: int = _field(0, 0, validation.MAX_MEMORY_MB, int)
    # Physical CPUs, as the host reports them (resource figures only).
    cpus: int = _field(64, 1, MAX_HOST_CPUS, int)


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
class ToolstackSpec:
    """Seconds each toolstack call takes (xl forks, reads xenstore).

    Zero by default. A scenario fitted to a real host (scenarios/
    xen-qemu.yaml) sets them, so that looking at the host costs what it
    costs there: with xl a full look is ``xl list``, ``xl info`` and two
    calls for dom0 (``xl list 0``, ``xl list -l 0``).
    """

    info_s: float = _field(0.0, 0.0, 600.0)
    dom0_s: float = _field(0.0, 0.0, 600.0)
    list_s: float = _field(0.0, 0.0, 600.0)
    mem_set_s: float = _field(0.0, 0.0, 600.0)
    # Before the guest's memory is populated (and when a create fails).
    create_s: float = _field(0.0, 0.0, 600.0)
    destroy_s: float = _field(0.0, 0.0, 600.0)
    # A yardstick of the machine the figures come from: how long creating
    # and destroying a tiny guest with xl took there (0: not said). The
    # simulator does not use it: xen_fit scales the scenario to another
    # run's machine with it (an emulated machine's speed varies).
    reference_s: float = _field(0.0, 0.0, 600.0)
    # Faults, for tests of what is owed (none by default). The first
    # reinflate_faults mem-set calls that raise dom0's target fail, as
    # reinflate_fault says: 'error' (xl exits 1), 'hang' (fails as a
    # timed-out call after fault_hang_s), 'ignore' (exits 0, sets
    # nothing). The first destroy_faults destroys exit 0 and leave the
    # domain, which the xl backend reports as a toolstack error. Counted
    # on the host: each command sees the next one.
    reinflate_faults: int = _field(0, 0, 1000000, int)
    reinflate_fault: str = _field('error', kind=str)
    fault_hang_s: float = _field(60.0, 0.0, 3600.0)
    destroy_faults: int = _field(0, 0, 1000000, int)


@dataclasses.dataclass
class DriverSpec:
    """The driver's own time on the host's CPU, outside toolstack calls.

    Zero by default. On a slow CPU (Xen under QEMU's emulation runs
    Python some fifty times slower) creating and storing a flow, and
    each task's ledger and logbook writes, take seconds: the fitted
    scenario charges them once per flow.
    """

    flow_s: float = _field(0.0, 0.0, 600.0)


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
class GenerateSpec:
    """Requests made up from a seed (the ``generate:`` section).

    ``count`` requests named ``<prefix>-<n>``; sizes log-uniform between
    min_memory_mb and max_memory_mb (as many 1-2 GiB guests as 256-512
    GiB ones), rounded to round_mb; arrivals from start_s with
    exponential gaps of mean mean_interval_s (a Poisson stream).
    """

    count: int = _field(None, 1, MAX_GENERATED, int)
    seed: int = _field(1, 0, 2 ** 31, int)
    prefix: str = _field('req', kind=str)
    min_memory_mb: int = _field(1024, 1, validation.MAX_MEMORY_MB, int)
    max_memory_mb: int = _field(512 * GiB, 1, validation.MAX_MEMORY_MB, int)
    round_mb: int = _field(1024, 1, validation.MAX_MEMORY_MB, int)
    start_s: float = _field(0.0, 0.0, 1.0e7)
    mean_interval_s: float = _field(1.0, 0.0, 1.0e6)
    vcpus: int = _field(1, 1, validation.MAX_VCPUS, int)
    guest_type: str = _field('pv', kind=str)


@dataclasses.dataclass
class HostEntry:
    """One item of ``hosts:`` (its sections are read separately)."""

    name: str = _field(None, kind=str)
    count: int = _field(None, 1, MAX_HOSTS, int, optional=True)


# The sections a ``hosts:`` item may override, and their specs.
HOST_SECTIONS = (('host', HostSpec), ('balloon', BalloonSpec),
                 ('build', BuildSpec), ('toolstack', ToolstackSpec))


@dataclasses.dataclass
class Scenario:
    name: str
    host: HostSpec
    balloon: BalloonSpec
    build: BuildSpec
    requests: list
    path: str = ''
    toolstack: ToolstackSpec = dataclasses.field(
        default_factory=ToolstackSpec)
    driver: DriverSpec = dataclasses.field(default_factory=DriverSpec)
    # A multi-host scenario: one Scenario per host (its name, its own
    # sections, no requests), in the order given; empty for one host.
    hosts: list = dataclasses.field(default_factory=list)

    def to_dict(self):
        data = {'name': self.name,
                'host': dataclasses.asdict(self.host),
                'balloon': dataclasses.asdict(self.balloon),
                'build': dataclasses.asdict(self.build),
                'toolstack': dataclasses.asdict(self.toolstack),
                'driver': dataclasses.asdict(self.driver),
                'requests': [dataclasses.asdict(r) for r in self.requests]}
        if self.hosts:
            # Expanded: one item per host, every section in full.
            data['hosts'] = [dict({'name': h.name}, **{
                key: dataclasses.asdict(getattr(h, key))
                for key, _ in HOST_SECTIONS}) for h in self.hosts]
        return data


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
    known = {'name', 'host', 'balloon', 'build', 'toolstack', 'driver',
             'requests', 'generate', 'hosts'}
    unknown = sorted(set(map(str, data)) - known)
    if unknown:
        raise exception.InvalidScenario(
            path=path, reason='unknown section(s) %s; known: %s' % (
                ', '.join(unknown), ', '.join(sorted(known))))
    host = _convert(HostSpec, data.get('host'), 'host', path)
    balloon = _convert(BalloonSpec, data.get('balloon'), 'balloon', path)
    build = _convert(BuildSpec, data.get('build'), 'build', path)
    toolstack = _convert(ToolstackSpec, data.get('toolstack'), 'toolstack',
                         path)
    _check_faults(toolstack, 'toolstack', path)
    driver = _convert(DriverSpec, data.get('driver'), 'driver', path)
    raw_requests = data.get('requests') or []
    if not isinstance(raw_requests, list):
        raise exception.InvalidScenario(path=path,
                                        reason='requests must be a list')
    requests = []
    for i, raw in enumerate(raw_requests):
        req = _convert(RequestSpec, raw, 'requests[%d]' % i, path)
        _check_name(req.name, 'requests[%d].name' % i, path)
        _check_guest_type(req.guest_type, 'requests[%d]' % i, path)
        requests.append(req)
    if data.get('generate') is not None:
        requests.extend(_generate(data['generate'], path))
    _no_duplicates([r.name for r in requests], 'request', path)
    _check_host(host, 'host', path)
    name = data.get('name') or path
    if not isinstance(name, str):
        raise exception.InvalidScenario(path=path,
                                        reason='name must be text')
    return Scenario(name=name, host=host, balloon=balloon, build=build,
                    requests=sorted(requests, key=lambda r: r.at_s),
                    path=path, toolstack=toolstack, driver=driver,
                    hosts=_hosts(data, path))


def _check_name(name, label, path):
    try:
        validation.domain_name(name)
    except exception.InvalidInput as err:
        raise exception.InvalidScenario(
            path=path, reason='%s: %s' % (label, err.reason))


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


def _generate(raw, path):
    """The requests of a ``generate:`` section (see GenerateSpec)."""
    spec = _convert(GenerateSpec, raw, 'generate', path)
    _check_name(spec.prefix, 'generate.prefix', path)
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
        requests.append(RequestSpec(
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
    known = {'name', 'count'} | {key for key, _ in HOST_SECTIONS}
    hosts = []
    for i, raw in enumerate(raw_hosts):
        where = 'hosts[%d]' % i
        if not isinstance(raw, dict):
            raise exception.InvalidScenario(
                path=path, reason='%s must be a mapping' % where)
        entry = _convert(HostEntry, {k: v for k, v in raw.items()
                                     if k in ('name', 'count')},
                         where, path)
        unknown = sorted(set(map(str, raw)) - known)
        if unknown:
            raise exception.InvalidScenario(
                path=path, reason='%s: unknown field(s) %s; known: %s' % (
                    where, ', '.join(unknown), ', '.join(sorted(known))))
        _check_name(entry.name, where + '.name', path)
        sections = {}
        for key, cls in HOST_SECTIONS:
            base_section = data.get(key) or {}
            override = raw.get(key)
            if override is not None and not isinstance(override, dict):
                raise exception.InvalidScenario(
                    path=path, reason='%s.%s must be a mapping' % (where,
                                                                   key))
            merged = dict(base_section)
            merged.update(override or {})
            sections[key] = _convert(cls, merged, '%s.%s' % (where, key),
                                     path)
        _check_host(sections['host'], where + '.host', path)
        count = entry.count or 1
        if len(hosts) + count > MAX_HOSTS:
            raise exception.InvalidScenario(
                path=path, reason='%s: more than %d hosts in all' % (
                    where, MAX_HOSTS))
        width = len(str(count))
        for n in range(count):
            name = entry.name
            if entry.count is not None:
                name = '%s-%0*d' % (entry.name, width, n + 1)
            balloon = dataclasses.replace(
                sections['balloon'], seed=sections['balloon'].seed + n)
            hosts.append(Scenario(
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
