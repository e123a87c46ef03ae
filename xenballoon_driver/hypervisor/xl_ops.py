"""The xl commands root runs: typed arguments, checked here, nothing free.

These functions run on the side that runs xl as root: inside the privsep
daemon when the service is not root (privsep.py), in the
service itself when it is, so both paths pass the same checks. Each
builds xl's whole argument list itself from checked values; the caller
never hands over a path, an option or a free string:

==================  =====================================================
info                ``xl info``
list_domains        ``xl list``
dom0_list           ``xl list 0``
dom0_list_long      ``xl list -l 0``
list_long           ``xl list -l`` (every domain's config: UUIDs)
domain_list         ``xl list NAME``
set_dom0_target     ``xl mem-set 0 <N>m``, N an int within bounds
create_domain       ``xl create <file>``: a config rendered here from
                    checked fields into a private directory made here
destroy_domain      ``xl destroy NAME``
shutdown_domain     ``xl shutdown -F NAME`` ([xl] shutdown_timeout)
pause_domain        ``xl pause NAME``
unpause_domain      ``xl unpause NAME``
save_domain         ``xl save NAME PATH``, PATH <dir>/NAME.save, new
restore_domain      ``xl restore <file> PATH``: the config rendered here
                    as for create (never the one inside the save file,
                    which whoever wrote the file chose)
console_log         the last 100 KiB of [xl] console_log_dir/guest-NAME.log
==================  =====================================================

A NAME passes xl_config.guest_name (a letter first, so never an option
such as "-f" nor a domid such as "0"; never "Domain-0"). The xl binary,
the timeouts and the allowed boot-file directories are this side's own
[xl] options (``options``). Arguments that fail a check get
xl_exec.refused(reason) and nothing runs.
"""

import errno
import os
import shutil
import stat
import tempfile

from xenballoon_driver import exception
from xenballoon_driver.hypervisor import base
from xenballoon_driver.hypervisor import xl_config
from xenballoon_driver.hypervisor import xl_exec
from xenballoon_driver import validation

# What create_domain takes: every key required but these optional ones.
CREATE_OPTIONAL = frozenset(('ramdisk', 'uuid', 'disks', 'vifs'))
CREATE_FIELDS = frozenset(('name', 'memory_mb', 'vcpus', 'guest_type',
                           'kernel')) | CREATE_OPTIONAL
# How much of a console log console_log returns: its end.
CONSOLE_MAX_BYTES = 100 * 1024


def _plain_int(value, what, low, high):
    """An int within [low, high]; no bool, float or text.

    privsep sends ints as ints: anything else did not come from our
    backend.
    """
    if type(value) is not int or not low <= value <= high:
        raise exception.InvalidInput(
            what=what, reason='%r is not a whole number from %d to %d' % (
                value, low, high))
    return value


def _run(options, args, timeout=None):
    return xl_exec.run(options.command, args,
                       timeout or options.command_timeout)


def info(options):
    return _run(options, ['info'])


def list_domains(options):
    return _run(options, ['list'])


def dom0_list(options):
    return _run(options, ['list', '0'])


def dom0_list_long(options):
    return _run(options, ['list', '-l', '0'])


def list_long(options):
    return _run(options, ['list', '-l'])


def domain_list(options, name):
    try:
        name = xl_config.guest_name(name)
    except exception.InvalidInput as err:
        return xl_exec.refused(err.message)
    return _run(options, ['list', name])


def set_dom0_target(options, target_mb):
    try:
        target_mb = _plain_int(target_mb, 'dom0 target in MiB',
                               base.MIN_DOM0_TARGET_MB,
                               validation.MAX_MEMORY_MB)
    except exception.InvalidInput as err:
        return xl_exec.refused(err.message)
    return _run(options, ['mem-set', '0', '%dm' % target_mb])


def destroy_domain(options, name):
    try:
        name = xl_config.guest_name(name)
    except exception.InvalidInput as err:
        return xl_exec.refused(err.message)
    return _run(options, ['destroy', name], options.destroy_timeout)


def _named(options, args, name, timeout=None):
    """xl ``args`` + [NAME] for one of our guests; refused if not ours."""
    try:
        name = xl_config.guest_name(name)
    except exception.InvalidInput as err:
        return xl_exec.refused(err.message)
    return _run(options, args + [name], timeout)


def shutdown_domain(options, name):
    # -F: a guest without PV control (HVM, no drivers) gets ACPI's power
    # button instead of a refusal.
    return _named(options, ['shutdown', '-F'], name,
                  options.shutdown_timeout)


def pause_domain(options, name):
    return _named(options, ['pause'], name)


def unpause_domain(options, name):
    return _named(options, ['unpause'], name)


def save_domain(options, name, path):
    try:
        name = xl_config.guest_name(name)
        path = xl_config.check_save_path(path, name, restore=False)
    except exception.InvalidInput as err:
        return xl_exec.refused(err.message)
    return _run(options, ['save', name, path], options.save_timeout)


def console_log(options, name):
    """The end of guest-NAME.log, answered like a run of xl.

    (EXITED, 0, text, '') or (OS_ERROR, errno, '', strerror).
    """
    try:
        name = xl_config.guest_name(name)
    except exception.InvalidInput as err:
        return xl_exec.refused(err.message)
    path = os.path.join(options.console_log_dir, 'guest-%s.log' % name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        return (xl_exec.OS_ERROR, err.errno, '', '%s: %s' % (
            path, err.strerror))
    with os.fdopen(fd, 'rb') as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return (xl_exec.OS_ERROR, errno.EINVAL, '',
                    '%s is not a regular file' % path)
        f.seek(max(0, os.fstat(fd).st_size - CONSOLE_MAX_BYTES))
        data = f.read(CONSOLE_MAX_BYTES)
    return (xl_exec.EXITED, 0, data.decode('utf-8', 'replace'), '')


def _checked_fields(options, fields):
    """fields -> (DomainSpec, kernel, ramdisk); InvalidInput if not."""
    if not isinstance(fields, dict):
        raise exception.InvalidInput(
            what='create fields', reason='expected a dict, not %s' % (
                type(fields).__name__,))
    keys = set(fields)
    unknown = sorted(str(k) for k in keys - CREATE_FIELDS)
    missing = sorted(CREATE_FIELDS - CREATE_OPTIONAL - keys)
    if unknown or missing:
        raise exception.InvalidInput(
            what='create fields', reason='unknown: %s; missing: %s' % (
                ', '.join(unknown) or 'none', ', '.join(missing) or 'none'))
    spec = base.DomainSpec(
        name=xl_config.guest_name(fields['name']),
        memory_mb=_plain_int(fields['memory_mb'], 'memory size in MiB', 1,
                             validation.MAX_MEMORY_MB),
        vcpus=_plain_int(fields['vcpus'], 'vCPU count', 1,
                         validation.MAX_VCPUS),
        guest_type=fields['guest_type'],
        uuid=(None if fields.get('uuid') is None else
              validation.instance_uuid(fields['uuid'])),
        disks=validation.disks(fields.get('disks') or ()),
        vifs=validation.vifs(fields.get('vifs') or ()))
    for disk in spec.disks:
        xl_config.check_disk(disk['path'], options.guest_disk_dirs)
    if not isinstance(spec.guest_type, str) or (
            spec.guest_type not in xl_config.XL_TYPES):
        raise exception.InvalidInput(
            what='guest type', reason='%r: use one of %s' % (
                spec.guest_type, ', '.join(sorted(xl_config.XL_TYPES))))
    dirs = options.guest_image_dirs
    kernel = xl_config.check_image(fields['kernel'], dirs,
                                   '[xl] guest_kernel')
    ramdisk = fields.get('ramdisk') or None
    if ramdisk is not None:
        ramdisk = xl_config.check_image(ramdisk, dirs, '[xl] guest_ramdisk')
    return spec, kernel, ramdisk


def _with_config(options, fields, args, timeout):
    """xl ``args(spec, config file)``, the config rendered here.

    From checked ``fields``, into a directory made here (mkdtemp: private
    to this side's user), gone afterwards.
    """
    try:
        spec, kernel, ramdisk = _checked_fields(options, fields)
    except exception.InvalidInput as err:
        return xl_exec.refused(err.message)
    directory = tempfile.mkdtemp(prefix='xenballoon-xl-')
    try:
        path = xl_config.write(directory, spec, kernel, ramdisk)
        return _run(options, args(spec, path), timeout)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def create_domain(options, fields):
    """``xl create`` of a config rendered here from checked ``fields``.

    fields: name, memory_mb, vcpus, guest_type, kernel and optionally
    ramdisk, uuid (the instance's, kept as the domain's), disks and vifs
    (validation.disks / vifs; each disk a regular file under this side's
    [xl] guest_disk_dirs); the boot files must pass
    xl_config.check_image against this side's [xl] guest_image_dirs.
    """
    return _with_config(options, fields, lambda spec, cfg: ['create', cfg],
                        options.create_timeout)


def restore_domain(options, fields, path):
    """``xl restore <config> PATH``: create_domain's checks.

    PATH must be where save_domain wrote the same name's memory.
    """
    def args(spec, cfg):
        return ['restore', cfg, xl_config.check_save_path(
            path, spec.name, restore=True)]
    try:
        return _with_config(options, fields, args, options.create_timeout)
    except exception.InvalidInput as err:
        return xl_exec.refused(err.message)
