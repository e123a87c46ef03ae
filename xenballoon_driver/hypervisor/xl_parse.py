"""Pure functions that read the figures xl 4.17 prints on stdout.

Nothing here runs a command: each function takes xl's text and returns
the project's figures in whole MiB, or raises ParseError saying what was
wrong (xl's stderr is read by xl_messages.py). The formats are those
captured from real xl 4.17.7 (see tests/fake_xl/fixtures):

``xl info``
    ``key<padding>: value`` lines; total_memory, free_memory and
    outstanding_claims are MiB.
``xl list``
    a header ``Name ... ID   Mem VCPUs<TAB>State<TAB>Time(s)`` and one row
    per domain; Mem is (current + outstanding claim) in MiB, rounded down.
    A name may contain spaces, so rows are read from the right.
``xl list -l``
    a JSON array of ``{"domid": N, "config": {...}}``; b_info.target_memkb
    is the target in KiB, but for dom0 xl 4.17 prints one KiB less than
    xenstore's memory/target (see target_mb_from_kib).
"""

import json
import re

from xenballoon_driver.hypervisor import base
from xenballoon_driver import units
from xenballoon_driver import validation

# Figures larger than this are nonsense on any host we support.
MAX_MB = validation.MAX_MEMORY_MB
MAX_KIB = units.mib_to_kib(MAX_MB)
MAX_DOMID = 0x7FEF          # DOMID_FIRST_RESERVED - 1
MAX_VCPUS = 4096

_INFO_LINE_RE = re.compile(r'^([a-z][a-z0-9_]*)\s*: ?(.*)$')
_LIST_HEADER_RE = re.compile(
    r'^Name\s+ID\s+Mem\s+VCPUs\s+State\s+Time\(s\)\s*$')
_STATE_RE = re.compile(r'^[r-][b-][p-][s-][c-][d-]$')
_TIME_RE = re.compile(r'^\d+(\.\d+)?$')
_INT_RE = re.compile(r'^[+-]?\d+$')

# Flags of xl list's State column, in the order xl prints them, and the
# word list_domains reports for each (the first flag set wins, in
# STATE_PRIORITY order; a live domain with none set is "running").
STATE_FLAGS = 'rbpscd'
STATE_PRIORITY = (('c', 'crashed'), ('d', 'dying'), ('s', 'shutdown'),
                  ('p', 'paused'))


class ParseError(ValueError):
    """xl printed something we cannot read; str() says what and where."""


def _number(text, what, maximum):
    text = text.strip()
    if not _INT_RE.match(text) or len(text) > 24:
        raise ParseError('%s is not a whole number: %r' % (what, text[:40]))
    value = int(text)
    if value < 0:
        raise ParseError('%s is negative: %d' % (what, value))
    if value > maximum:
        raise ParseError('%s is absurd: %d (more than %d)' % (
            what, value, maximum))
    return value


def _json_int(value, what, maximum):
    # bool is an int in Python: refuse it, and refuse floats and strings.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParseError('%s is not a whole number: %r' % (what, value))
    return _number(str(value), what, maximum)


# -- xl info -------------------------------------------------------------


def parse_info(text):
    """``xl info`` -> {key: value} (values are text, stripped)."""
    fields = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _INFO_LINE_RE.match(line)
        if not match:
            raise ParseError('line %d is not "key : value": %r' % (
                number, line[:80]))
        key, value = match.groups()
        if key in fields:
            raise ParseError('line %d repeats %s' % (number, key))
        fields[key] = value.strip()
    if not fields:
        raise ParseError('no output')
    return fields


def _required_numbers(fields, keys, limit):
    """{key: whole number} of ``xl info`` fields; ParseError if absent."""
    values = {}
    for key in keys:
        if key not in fields:
            raise ParseError('%s is missing' % key)
        values[key] = _number(fields[key], key, limit)
    return values


def host_memory(text):
    """``xl info`` -> base.HostMemory (MiB, as xl prints them)."""
    fields = parse_info(text)
    values = _required_numbers(
        fields, ('total_memory', 'free_memory', 'outstanding_claims'), MAX_MB)
    total = values['total_memory']
    if total == 0:
        raise ParseError('total_memory is 0')
    for key in ('free_memory', 'outstanding_claims'):
        if values[key] > total:
            raise ParseError('%s %d is above total_memory %d' % (
                key, values[key], total))
    return base.HostMemory(total_mb=total, free_mb=values['free_memory'],
                           claimed_mb=values['outstanding_claims'])


def host_info(text):
    """``xl info`` -> base.HostInfo (nr_cpus, topology, xen_version)."""
    fields = parse_info(text)
    values = _required_numbers(
        fields, ('nr_cpus', 'cores_per_socket', 'threads_per_core'),
        MAX_VCPUS)
    for key, value in values.items():
        if value == 0:
            raise ParseError('%s is 0' % key)
    try:
        version = base.version_int(fields.get('xen_version'))
    except ValueError:
        raise ParseError('xen_version is not a version: %r' % (
            fields.get('xen_version'),))
    return base.HostInfo(cpus=values['nr_cpus'], hypervisor_version=version,
                         arch=fields.get('machine') or 'x86_64',
                         cores_per_socket=values['cores_per_socket'],
                         threads_per_core=values['threads_per_core'])


# -- xl list -------------------------------------------------------------


class ListRow:
    """One row of ``xl list``."""

    __slots__ = ('name', 'domid', 'mem_mb', 'vcpus', 'flags', 'cpu_time_s')

    def __init__(self, name, domid, mem_mb, vcpus, flags, cpu_time_s):
        self.name = name
        self.domid = domid
        self.mem_mb = mem_mb
        self.vcpus = vcpus
        self.flags = flags
        self.cpu_time_s = cpu_time_s

    @property
    def state(self):
        return state_word(self.flags)

    def __repr__(self):
        return 'ListRow(%r, %d, %d MiB, %d vCPUs, %s)' % (
            self.name, self.domid, self.mem_mb, self.vcpus, self.flags)


def state_word(flags):
    """xl's six state flags ('r-----', '--p---') -> one word."""
    for flag, word in STATE_PRIORITY:
        if flag in flags:
            return word
    return 'running'


def parse_list(text):
    """``xl list [domain]`` -> [ListRow], in xl's order."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ParseError('no output')
    if not _LIST_HEADER_RE.match(lines[0]):
        raise ParseError('unexpected header %r' % lines[0][:80])
    rows = []
    seen = set()
    for number, line in enumerate(lines[1:], 2):
        parts = line.rsplit(None, 5)
        if len(parts) != 6:
            raise ParseError('line %d has %d columns, not 6: %r' % (
                number, len(parts), line[:80]))
        name, domid, mem, vcpus, flags, cpu = parts
        name = name.rstrip()
        if not name or name != name.lstrip():
            raise ParseError('line %d has no name: %r' % (number, line[:80]))
        domid = _number(domid, 'line %d: ID' % number, MAX_DOMID)
        mem = _number(mem, 'line %d: Mem' % number, MAX_MB)
        vcpus = _number(vcpus, 'line %d: VCPUs' % number, MAX_VCPUS)
        if not _STATE_RE.match(flags):
            raise ParseError('line %d: State is not six flags: %r' % (
                number, flags))
        if not _TIME_RE.match(cpu):
            raise ParseError('line %d: Time(s) is not a number: %r' % (
                number, cpu))
        if domid in seen:
            raise ParseError('line %d repeats domid %d' % (number, domid))
        seen.add(domid)
        rows.append(ListRow(name, domid, mem, vcpus, flags, float(cpu)))
    return rows


def dom0_row(rows):
    for row in rows:
        if row.domid == 0:
            return row
    raise ParseError('dom0 (domid 0) is missing from the list')


# -- xl list -l ----------------------------------------------------------


def parse_list_long(text):
    """``xl list -l [domain]`` -> [{'domid': int, 'config': dict}]."""
    if not text.strip():
        raise ParseError('no output')
    try:
        data = json.loads(text)
    except ValueError as err:
        hint = ''
        if text.lstrip().startswith('('):
            hint = ' (SXP output: is output_format="sxp" set in xl.conf?)'
        raise ParseError('not valid JSON: %s%s' % (err, hint))
    if not isinstance(data, list):
        raise ParseError('not a JSON array but %s' % type(data).__name__)
    seen = set()
    for index, entry in enumerate(data):
        where = 'entry %d' % index
        if not isinstance(entry, dict):
            raise ParseError('%s is not an object' % where)
        if 'domid' not in entry:
            raise ParseError('%s has no domid' % where)
        domid = _json_int(entry['domid'], where + ' domid', MAX_DOMID)
        if domid in seen:
            raise ParseError('%s repeats domid %d' % (where, domid))
        seen.add(domid)
        if not isinstance(entry.get('config'), dict):
            raise ParseError('%s (domid %d) has no config object' % (
                where, domid))
    return data


def target_mb_from_kib(target_memkb):
    """A memory target in KiB from ``xl list -l`` -> whole MiB, rounded up.

    xl 4.17 prints dom0's b_info.target_memkb one KiB below xenstore's
    memory/target: libxl adds a "fudge" of dom0's video_memkb, which is
    never set for dom0 and so is LIBXL_MEMKB_DEFAULT (-1): 1572863 for a
    target of 1572864 KiB (1536 MiB). libxl versions with that fixed print
    the target itself, and guests' targets are always printed exactly.

    Rounding up is exact for every whole-MiB target, with or without the
    quirk (1572863 -> 1536 and 1572864 -> 1536). Adding the KiB back first
    would be wrong on a fixed libxl (1572865 KiB is not 1536 MiB), and
    rounding down would turn the quirk into a MiB lost (1535). A target
    that is not a whole MiB (xl's own autoballoon sets e.g. 1362268 KiB)
    also rounds up, so dom0 is never reported below what it was asked
    for, as the simulated backend does.
    """
    return units.kib_to_mib_ceil(target_memkb)


def _entry(entries, domid):
    for entry in entries:
        if entry['domid'] == domid:
            return entry
    raise ParseError('domid %d is missing from the list' % domid)


def dom0_target_mb(entries):
    """Entries of ``xl list -l 0`` -> dom0's target in whole MiB."""
    entry = _entry(entries, 0)
    b_info = entry['config'].get('b_info')
    if not isinstance(b_info, dict):
        raise ParseError('dom0 has no b_info object')
    if 'target_memkb' not in b_info:
        raise ParseError('dom0 b_info.target_memkb is missing')
    kib = _json_int(b_info['target_memkb'], 'dom0 b_info.target_memkb',
                    MAX_KIB)
    if kib == 0:
        raise ParseError('dom0 b_info.target_memkb is 0')
    return target_mb_from_kib(kib)
