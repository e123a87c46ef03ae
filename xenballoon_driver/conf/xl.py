"""[xl] options: the real Xen toolstack backend."""

import copy

from oslo_config import cfg

from xenballoon_driver.conf import num

xl_group = cfg.OptGroup(
    'xl', title='xl toolstack backend',
    help='The "xl" hypervisor backend: runs the real xl command (directly '
         'when the service runs as root, otherwise through an oslo.privsep '
         'daemon).')

xl_opts = [
    cfg.StrOpt('command', default='xl',
               help='Path to the xl binary (or its name on PATH).'),
    num.FloatOpt('command_timeout', default=60.0, min=1.0, max=3600.0,
                 help='Seconds before an xl command that is not a create '
                      'or a destroy is killed and reported as a toolstack '
                      'error. xl info / list / mem-set take well under a '
                      'second on hardware.'),
    num.FloatOpt('create_timeout', default=900.0, min=1.0, max=86400.0,
                 help='Seconds before "xl create" is killed and reported as '
                      'a toolstack error; whatever it left of the domain is '
                      'then destroyed. Building a guest populates all its '
                      'memory, which for hundreds of GiB takes minutes.'),
    num.FloatOpt('destroy_timeout', default=300.0, min=1.0, max=86400.0,
                 help='Seconds before "xl destroy" is killed and reported '
                      'as a toolstack error. Destroying a big guest returns '
                      'all its memory to Xen, which can take a while.'),
    cfg.StrOpt('guest_kernel', default='',
               help='Absolute path of the kernel that guests boot (xl\'s '
                    'kernel= setting; pvgrub or a Linux kernel). Required '
                    'for spawning; checked before xl runs. Only letters, '
                    'digits and "_", ".", "-", "+", "/" are allowed.'),
    cfg.StrOpt('guest_ramdisk', default='',
               help='Absolute path of the initial ramdisk that guests boot '
                    'with (xl\'s ramdisk= setting). Empty means none. Same '
                    'character rules as guest_kernel.'),
    cfg.StrOpt('dom0_balloon_dir',
               default='/sys/devices/system/xen_memory/xen_memory0',
               help='Where dom0\'s Linux balloon driver shows its target '
                    'and current size (target_kb, info/current_kb). When '
                    'these files exist dom0 is read there instead of with '
                    'two xl calls per look; empty, or a directory without '
                    'them, means xl list.'),
    num.IntOpt('sysfs_check_tolerance_mb', default=4, min=0, max=1024,
               help='Integer MiB, 0 to 1024. The first time a process reads '
                    'dom0 it compares dom0_balloon_dir with one "xl list 0" '
                    'and "xl list -l 0" reading; when dom0\'s size or target '
                    'differ by more than this (xl reads a moment later and '
                    'rounds down), the directory is not trusted and dom0 is '
                    'read with xl from then on.'),
    cfg.ListOpt('guest_image_dirs',
                default=['/boot', '/usr/lib/xen/boot', '/usr/lib/grub-xen',
                         '/var/lib/xen/images'],
                help='Directories that guest_kernel and guest_ramdisk must '
                     'lie in. The side that runs xl as root (the privsep '
                     'daemon, or the service itself when it runs as root) '
                     'refuses a kernel or ramdisk outside them, or one that '
                     'it (root) does not own or that group or others can '
                     'write, down from the listed directory: so a '
                     'compromised service user cannot have root boot a file '
                     'of its own.'),
    num.IntOpt('look_retries', default=3, min=0, max=20,
               help='Integer, 0 to 20. How many times a read-only look (xl '
                    'info, xl list, a sysfs read) that failed is tried '
                    'again before the failure is reported: one transient '
                    'glitch of xl during a long balloon wait must not fail '
                    'the spawn. mem-set, create and destroy are never '
                    'retried this way. 0 turns retries off.'),
    num.FloatOpt('look_retry_interval', default=1.0, min=0.0, max=60.0,
                 help='Seconds, 0 to 60, waited before each retry of a '
                      'read-only look. The wait counts in the balloon '
                      'wait\'s stall clock like any other.'),
    num.FloatOpt('look_retry_window', default=30.0, min=0.0, max=600.0,
                 help='Seconds, 0 to 600: no retry of a read-only look '
                      'starts later than this after its first try (so with '
                      'command_timeout, bounds how long one look can take '
                      'before its failure is reported).'),
    num.FloatOpt('shutdown_timeout', default=10.0, min=1.0, max=600.0,
                 help='Seconds "xl shutdown" may wait for the guest to '
                      'acknowledge the request before xl is killed. libxl '
                      'writes the request into xenstore and then waits up '
                      'to 60 s for the guest\'s kernel to take it (a guest '
                      'without PV control, such as a bootloader prompt, '
                      'never does); the request stays in xenstore either '
                      'way, and the driver\'s power-off timeout decides '
                      'when the domain is destroyed instead.'),
    num.FloatOpt('save_timeout', default=900.0, min=1.0, max=86400.0,
                 help='Seconds before "xl save" is killed and reported as '
                      'a toolstack error. Saving writes all the guest\'s '
                      'memory to disk. "xl restore" uses create_timeout.'),
    cfg.StrOpt('console_log_dir', default='/var/log/xen/console',
               help='Where xenconsoled keeps guests\' console logs, as '
                    'guest-NAME.log (xenconsoled --log=guest, or '
                    'XENCONSOLED_TRACE=guest in /etc/default/xencommons). '
                    'Read by the side that runs xl; the last 100 KiB of a '
                    'guest\'s log is its console output.'),
    cfg.ListOpt('guest_disk_dirs',
                default=['/var/lib/nova/instances', '/var/lib/xen/images'],
                help='Directories that guests\' file-backed disks must lie '
                     'in. The side that runs xl as root refuses a disk '
                     'that is not a regular file under one of them, or '
                     'whose path goes through a symbolic link: so a '
                     'compromised service user cannot hand a guest a '
                     'device or a file of root\'s.'),
    cfg.StrOpt('xl_conf', default='/etc/xen/xl.conf',
               help='xl\'s global configuration file, read at start-up for '
                    'claim_mode and autoballoon. A missing file means xl\'s '
                    'defaults (claims on).'),
]


def register_opts(conf):
    # A new group object per ConfigOpts: oslo.config copies a group
    # shallowly, so sharing one would share overrides between them.
    group = copy.deepcopy(xl_group)
    conf.register_group(group)
    conf.register_opts(xl_opts, group=group)


def list_opts():
    return {xl_group: xl_opts}
