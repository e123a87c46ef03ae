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
