"""Guest configuration files for ``xl create``, written safely.

xl's config language has quoted strings with escapes, numbers and lists;
a value written raw could end its string and add settings of its own. So
nothing from a user is written raw: the name goes through
validation.domain_name (letters, digits, "_", ".", "-", a letter first: no
quote, backslash, space or newline can reach the file, and no all-digit
name that xl would later read as a domid), a UUID is canonical hex and
dashes (validation.instance_uuid), numbers are checked ints
written with %d, the guest type is one of a fixed set, and paths must be
absolute, normalised and made of a conservative set of characters;
disks and vifs are checked again by validation.disks / validation.vifs
(their characters need no quoting).
"""

import os
import re
import stat

from xenballoon_driver import exception
from xenballoon_driver import validation

XL_TYPES = {'pv': 'pv', 'pvh': 'pvh', 'hvm': 'hvm'}
DOM0_NAME = 'Domain-0'


def check_file(path, option):
    """validation.abs_path, and the file must exist and be a regular file."""
    validation.abs_path(path, option)
    if not os.path.isfile(path):
        raise exception.InvalidConfig(
            option=option, reason='%s is not a file on this host' % path)
    return path


def guest_name(name):
    """A guest's name by our rule, never dom0's; InvalidInput if not.

    A letter first: never an xl option ("-f") nor a domid ("0").
    """
    name = validation.domain_name(name)
    if name == DOM0_NAME:
        raise exception.InvalidInput(what='domain name',
                                     reason='%s is dom0\'s name' % name)
    return name


def check_image(path, directories, option):
    """A boot file root may hand to xl: in an allowed, root-held directory.

    ``directories`` are [xl] guest_image_dirs as the side that runs xl
    reads them. The file, resolved, must lie under one of them, and it
    and every directory from there down must belong to this process's
    user (root, where xl runs) and be writable by nobody else: otherwise
    whoever can write there could swap in a file of their own between
    this check and xl's read. Returns the resolved path; InvalidConfig
    if not.
    """
    validation.abs_path(path, option)
    real = os.path.realpath(path)
    for directory in directories or ():
        if not directory or not os.path.isabs(directory):
            continue
        top = os.path.realpath(directory)
        if os.path.commonpath([top, real]) != top or real == top:
            continue
        _check_held(top, real, option)
        if not os.path.isfile(real):
            raise exception.InvalidConfig(
                option=option, reason='%s is not a file on this host' % path)
        return real
    raise exception.InvalidConfig(
        option=option, reason='%s is not in a directory of [xl] '
                              'guest_image_dirs (%s): move it there or add '
                              'its directory' % (
                                  path, ', '.join(directories or ()) or
                                  'none'))


def _check_held(top, real, option):
    """Each step from ``top`` down to ``real``: ours, and only we write."""
    uid = os.geteuid()
    step = top
    parts = os.path.relpath(real, top).split(os.sep)
    for part in [None] + parts:
        if part is not None:
            step = os.path.join(step, part)
        try:
            st = os.lstat(step)
        except OSError as err:
            raise exception.InvalidConfig(
                option=option, reason='cannot check %s: %s' % (
                    step, err.strerror or err))
        if st.st_uid != uid or st.st_mode & 0o022:
            raise exception.InvalidConfig(
                option=option, reason='%s is owned by uid %d with mode %o: '
                                      'it must be owned by uid %d (who runs '
                                      'xl) and not writable by group or '
                                      'others' % (step, st.st_uid,
                                                  st.st_mode & 0o7777, uid))


def _quote(value):
    # Every value reaching here matched a pattern without quotes or
    # backslashes; refuse anything else rather than trying to escape it.
    if not isinstance(value, str) or re.search(r'["\\\n\r\x00]', value):
        raise exception.InvalidInput(what='config value',
                                     reason='%r cannot be quoted' % (value,))
    return '"%s"' % value


def render(spec, kernel, ramdisk=None):
    """DomainSpec + boot files -> the text of an xl guest config.

    memory and maxmem are both the guest's memory (no populate-on-demand,
    no balloon headroom), so what xl builds is what we reserved.
    """
    name = guest_name(spec.name)
    memory = validation.memory_mb(spec.memory_mb)
    vcpus = validation.vcpus(spec.vcpus)
    if spec.guest_type not in XL_TYPES:
        raise exception.InvalidInput(
            what='guest type', reason='%r: use one of %s' % (
                spec.guest_type, ', '.join(sorted(XL_TYPES))))
    lines = [
        '# Written by xenballoon-driver for xl create; do not edit.',
        'name = %s' % _quote(name),
        'type = %s' % _quote(XL_TYPES[spec.guest_type]),
        'kernel = %s' % _quote(
            validation.abs_path(kernel, '[xl] guest_kernel')),
    ]
    if spec.uuid is not None:
        # The instance's: xl keeps it as the domain's own UUID.
        lines.append('uuid = %s' % _quote(validation.instance_uuid(
            spec.uuid)))
    if ramdisk:
        lines.append('ramdisk = %s' % _quote(
            validation.abs_path(ramdisk, '[xl] guest_ramdisk')))
    lines += _devices(spec)
    lines += [
        'memory = %d' % memory,
        'maxmem = %d' % memory,
        'vcpus = %d' % vcpus,
        'on_poweroff = "destroy"',
        'on_reboot = "restart"',
        'on_crash = "destroy"',
    ]
    return '\n'.join(lines) + '\n'


def _devices(spec):
    """disk = [...] and vif = [...] lines, each value checked again here.

    xl's disk spec: target last, as xl requires (it may hold commas; ours
    cannot: validation.disks allows no comma, quote or space in a path).
    """
    lines = []
    disks = validation.disks(list(spec.disks))
    vifs = validation.vifs(list(spec.vifs))
    if disks:
        lines.append('disk = [ %s ]' % ', '.join(
            _quote('format=raw, vdev=%s, access=rw, target=%s' % (
                d['vdev'], d['path'])) for d in disks))
    if vifs:
        lines.append('vif = [ %s ]' % ', '.join(
            _quote('mac=%s, bridge=%s' % (v['mac'], v['bridge']))
            for v in vifs))
    return lines


def check_disk(path, directories):
    """A disk root may hand to a guest; InvalidInput if not.

    A regular file under an allowed directory ([xl] guest_disk_dirs as
    the side that runs xl reads them), reached without a symbolic link.
    Returns the path.
    """
    validation.abs_path(path, 'disk path')
    if os.path.realpath(path) != path:
        raise exception.InvalidInput(
            what='disk path', reason='%s goes through a symbolic link' % path)
    tops = [os.path.realpath(d) for d in directories or ()
            if d and os.path.isabs(d)]
    if not any(os.path.commonpath([top, path]) == top != path
               for top in tops):
        raise exception.InvalidInput(
            what='disk path', reason='%s is not in a directory of [xl] '
                                     'guest_disk_dirs (%s)' % (
                                         path, ', '.join(directories or ())
                                         or 'none'))
    if not os.path.isfile(path):
        raise exception.InvalidInput(
            what='disk path', reason='%s is not a regular file' % path)
    return path


def check_save_path(path, name, restore):
    """Where ``xl save`` writes, or ``xl restore`` reads, ``name``'s memory.

    Root opens it, so: a plain absolute path named ``<name>.save`` (or
    ``.save.part``), no symbolic link on the way; for a save, nothing
    there yet (xl save truncates what it finds); for a restore, a regular
    file. At worst a service user racing this check makes root write a
    file of that name.
    """
    validation.abs_path(path, 'save file')
    # NAME.save.part: the driver saves beside and renames once whole.
    if os.path.basename(path) not in ('%s.save' % guest_name(name),
                                      '%s.save.part' % name):
        raise exception.InvalidInput(
            what='save file', reason='%s is not named %s.save or '
                                     '%s.save.part' % (path, name, name))
    parent = os.path.dirname(path)
    if os.path.realpath(parent) != parent or not os.path.isdir(parent):
        raise exception.InvalidInput(
            what='save file', reason='%s is not a directory reached without '
                                     'a symbolic link' % parent)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if restore and (st is None or not stat.S_ISREG(st.st_mode)):
        raise exception.InvalidInput(
            what='save file', reason='%s is not a regular file' % path)
    if not restore and st is not None:
        raise exception.InvalidInput(
            what='save file', reason='%s already exists' % path)
    return path


def write(directory, spec, kernel, ramdisk=None):
    """Write the config for ``spec`` into ``directory``; return its path.

    The file is created exclusively (never follows or reuses an existing
    file) and readable by its owner only.
    """
    text = render(spec, kernel, ramdisk)
    path = os.path.join(directory, '%s.cfg' % spec.name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                 0o600)
    with os.fdopen(fd, 'w', encoding='ascii') as f:
        f.write(text)
    return path
