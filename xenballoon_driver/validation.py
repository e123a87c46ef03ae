"""Checks on what users hand us: names, sizes, vCPU counts, types, paths.

Everything a user gives is checked here before it reaches a flow, a
toolstack command or a file, so that bad input changes nothing.
"""

import os
import re

from xenballoon_driver import exception

# xl accepts any name (spaces, quotes, all digits; a numeric name is later
# read as a domid), so we allow a conservative set: a letter first, then
# letters, digits, '_', '.' and '-'.
NAME_RE = re.compile(r'[A-Za-z][A-Za-z0-9_.-]*')
MAX_NAME_LEN = 64
# Xen on x86 supports hosts of up to 16 TiB without special builds; no
# guest of ours can be larger than that.
MAX_MEMORY_MB = 16 * 1024 * 1024
MAX_VCPUS = 512
# dom0's name in xl and libvirt: a guest by that name (in any case) would
# be dom0 to some tools and a guest to others.
RESERVED_NAMES = ('domain-0',)
# xl reads a name that strtoul() takes whole as a domain ID.
DOMID_RE = re.compile(r'\s*[+-]?[0-9]+')
# Sizes and counts: ASCII digits only. \d and int() also take Unicode
# digits ("١٠٢٤") and int() takes "1_024".
NUMBER_RE = re.compile(r'[+-]?[0-9]+')
# Boot files' paths: written into an xl config (and read by root's side)
# plainly spelt, nothing that needs quoting; no control character ever.
PATH_RE = re.compile(r'/[A-Za-z0-9_.+/-]*')
MAX_PATH_LEN = 1024
CONTROL_RE = re.compile(r'[\x00-\x1f\x7f]')
# An instance UUID as Nova, xl and libvirt print it: lower-case hex in
# 8-4-4-4-12 groups, nothing around it.
UUID_RE = re.compile(r'[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}')
# What the toolstacks can build (and what footprint.py knows the cost of).
GUEST_TYPES = ('pv', 'pvh', 'hvm')


def domain_name(name):
    if not isinstance(name, str):
        raise exception.InvalidInput(what='domain name',
                                     reason='must be text, not %r' % (name,))
    if not name:
        raise exception.InvalidInput(what='domain name',
                                     reason='it must not be empty')
    if len(name) > MAX_NAME_LEN:
        raise exception.InvalidInput(
            what='domain name',
            reason='%d characters, at most %d allowed' % (len(name),
                                                          MAX_NAME_LEN))
    if name.lower() in RESERVED_NAMES:
        raise exception.InvalidInput(
            what='domain name',
            reason='%r: reserved for dom0 (in any case); choose another '
                   'name' % name)
    if DOMID_RE.fullmatch(name):
        raise exception.InvalidInput(
            what='domain name',
            reason='%r: xl would read it as a domain ID; use a letter '
                   'first, then letters, digits, "_", "." or "-"' % name)
    if not NAME_RE.fullmatch(name):
        raise exception.InvalidInput(
            what='domain name',
            reason='%r: use a letter first, then letters, digits, "_", "." '
                   'or "-" (no spaces, quotes, slashes or shell characters)'
                   % name)
    return name


def instance_uuid(value):
    """A canonical UUID string (upper case is taken, returned lower)."""
    if not isinstance(value, str):
        raise exception.InvalidInput(what='instance UUID',
                                     reason='must be text, not %r' % (value,))
    text = value.lower()
    if not UUID_RE.fullmatch(text):
        raise exception.InvalidInput(
            what='instance UUID',
            reason='%r is not a UUID in its canonical form (32 hex digits '
                   'in groups of 8-4-4-4-12, e.g. '
                   '"1b4e28ba-2fa1-11d2-883f-0016d3cca427")' % (value[:80],))
    return text


def _positive_int(value, what, maximum, unit=''):
    if isinstance(value, bool):
        raise exception.InvalidInput(what=what,
                                     reason='%r is not a number' % value)
    if isinstance(value, str):
        text = value.strip()
        if not NUMBER_RE.fullmatch(text):
            raise exception.InvalidInput(
                what=what,
                reason='%r is not a whole number%s in ASCII digits' % (
                    value, unit))
        if len(text.lstrip('+-0')) > len(str(maximum)):
            # Also spares int() a number too long for it to read.
            raise exception.InvalidInput(
                what=what, reason='%s... is above the limit of %d%s' % (
                    text[:12], maximum, unit))
        value = int(text)
    elif isinstance(value, float):
        if not value.is_integer():
            raise exception.InvalidInput(
                what=what, reason='%r is not a whole number%s' % (value, unit))
        value = int(value)
    elif not isinstance(value, int):
        raise exception.InvalidInput(what=what,
                                     reason='%r is not a number' % (value,))
    if value <= 0:
        raise exception.InvalidInput(
            what=what, reason='%d must be above zero' % value)
    if value > maximum:
        raise exception.InvalidInput(
            what=what, reason='%d is above the limit of %d%s' % (
                value, maximum, unit))
    return value


def memory_mb(value, what='memory size'):
    return _positive_int(value, what, MAX_MEMORY_MB, ' MiB')


def vcpus(value):
    return _positive_int(value, 'vCPU count', MAX_VCPUS)


def guest_type(value):
    if value not in GUEST_TYPES:
        raise exception.InvalidInput(
            what='guest type', reason='%r: use one of %s' % (
                value, ', '.join(GUEST_TYPES)))
    return value


def abs_path(path, option, required=True, plain=True):
    """An absolute, normalised path; InvalidConfig if not.

    An empty ``path`` is None unless ``required``. ``plain``: also only
    letters, digits and "_", ".", "+", "-", "/", at most MAX_PATH_LEN
    characters, for text written where nothing is escaped (an xl
    config); otherwise any character but control characters (libvirt's
    XML, which ElementTree escapes).
    """
    if not path and not required:
        return None
    if not isinstance(path, str) or not path:
        raise exception.InvalidConfig(option=option, reason='it is not set')
    if plain and len(path) > MAX_PATH_LEN:
        raise exception.InvalidConfig(
            option=option, reason='the path is longer than %d characters'
            % MAX_PATH_LEN)
    if plain and not PATH_RE.fullmatch(path):
        raise exception.InvalidConfig(
            option=option, reason='%r must be an absolute path of letters, '
                                  'digits and "_", ".", "+", "-", "/"' % path)
    if CONTROL_RE.search(path):
        raise exception.InvalidConfig(
            option=option, reason='%r contains control characters' % path)
    if (not os.path.isabs(path) or os.path.normpath(path) != path or
            path.startswith('//')):
        raise exception.InvalidConfig(
            option=option, reason='%r is not an absolute, normalised path '
                                  '(no "..", "." or repeated "/")' % path)
    return path


# A guest disk's device name as xl and libvirt take it for PV and HVM
# guests: xvda..xvdz, then xvdaa..; at most 26 + 26 * 26 disks.
VDEV_RE = re.compile(r'xvd[a-z]{1,2}')
# A unicast MAC as Nova and Neutron write it: six lower-case hex pairs.
MAC_RE = re.compile(r'[0-9a-f]{2}(?::[0-9a-f]{2}){5}')
# A Linux interface name (IFNAMSIZ - 1 = 15 characters), of characters
# that need no quoting in an xl config or a hotplug script's argument.
BRIDGE_RE = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.-]{0,14}')
MAX_DEVICES = 64


def _devices(values, what, keys):
    if isinstance(values, (str, bytes)) or not isinstance(
            values, (list, tuple)):
        raise exception.InvalidInput(
            what=what, reason='must be a list, not %r' % (values,))
    if len(values) > MAX_DEVICES:
        raise exception.InvalidInput(
            what=what, reason='%d given, at most %d' % (len(values),
                                                        MAX_DEVICES))
    for value in values:
        if not isinstance(value, dict) or set(value) != set(keys):
            raise exception.InvalidInput(
                what=what, reason='each must have exactly the keys %s, not '
                                  '%r' % (', '.join(keys), value))
    return tuple(dict(v) for v in values)


def disks(values):
    """Checked disks; InvalidInput if not.

    ({'path': ..., 'vdev': 'xvda'}, ...): plain absolute paths, each
    device name once.
    """
    values = _devices(values, 'disks', ('path', 'vdev'))
    seen = set()
    for disk in values:
        try:
            abs_path(disk['path'], 'disk path')
        except exception.InvalidConfig as err:
            raise exception.InvalidInput(what='disk path',
                                         reason=err.message) from err
        vdev = disk['vdev']
        if not isinstance(vdev, str) or not VDEV_RE.fullmatch(vdev):
            raise exception.InvalidInput(
                what='disk device', reason='%r: use xvda, xvdb, ...' % (
                    vdev,))
        if vdev in seen:
            raise exception.InvalidInput(
                what='disk device', reason='%s given twice' % vdev)
        seen.add(vdev)
    return values


def vifs(values):
    """Checked network interfaces; InvalidInput if not.

    ({'mac': 'fa:16:3e:..', 'bridge': 'br100'}, ...): each MAC once.
    """
    values = _devices(values, 'network interfaces', ('mac', 'bridge'))
    seen = set()
    for vif in values:
        mac, bridge = vif['mac'], vif['bridge']
        if not isinstance(mac, str) or not MAC_RE.fullmatch(mac) or (
                int(mac[:2], 16) & 1):
            raise exception.InvalidInput(
                what='MAC address', reason='%r: six lower-case hex pairs, '
                                           'unicast' % (mac,))
        if not isinstance(bridge, str) or not BRIDGE_RE.fullmatch(bridge):
            raise exception.InvalidInput(
                what='bridge', reason='%r: an interface name of at most 15 '
                                      'letters, digits, "_", ".", "-"' % (
                                          bridge,))
        if mac in seen:
            raise exception.InvalidInput(what='MAC address',
                                         reason='%s given twice' % mac)
        seen.add(mac)
    return values
