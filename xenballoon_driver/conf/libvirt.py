"""[libvirt] options: the libvirt backend."""

import copy

from oslo_config import cfg

libvirt_group = cfg.OptGroup(
    'libvirt', title='libvirt backend',
    help='The "libvirt" hypervisor backend: talks to libvirtd through '
         'libvirt-python (an optional extra: pip install '
         '"xenballoon-driver[libvirt]").')

libvirt_opts = [
    cfg.StrOpt('uri', default='xen:///system',
               help='libvirt connection URI. xen:///system is the libxl '
                    'driver of the local libvirtd; test:///path/to/node.xml '
                    'is libvirt\'s test driver (used by the tests). Set '
                    'autoballoon=0 in libvirt\'s libxl.conf: otherwise '
                    'libvirt balloons dom0 itself, behind the driver\'s '
                    'ledger and without updating the target it reports.'),
    cfg.StrOpt('dom0_name', default='Domain-0',
               regex=r'^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$',
               help='Name of dom0 in libvirt, used only when the connection '
                    'has no domain with ID 0. libvirt\'s libxl driver always '
                    'shows dom0 as ID 0 named Domain-0; libvirt\'s test '
                    'driver numbers domains from 1, so tests find dom0 by '
                    'this name.'),
    cfg.StrOpt('guest_kernel', default='',
               help='Absolute path, on the libvirt host, of the kernel that '
                    'guests boot (<os><kernel>; pvgrub or a Linux kernel). '
                    'Empty means none: a PV guest then fails to build on '
                    'libxl. Checked for an absolute path at start-up, not '
                    'for existence (the libvirt host may be remote).'),
    cfg.StrOpt('guest_ramdisk', default='',
               help='Absolute path, on the libvirt host, of the initial '
                    'ramdisk that guests boot with (<os><initrd>). Empty '
                    'means none.'),
]


def register_opts(conf):
    # A new group object per ConfigOpts: oslo.config copies a group
    # shallowly, so sharing one would share overrides between them.
    group = copy.deepcopy(libvirt_group)
    conf.register_group(group)
    conf.register_opts(libvirt_opts, group=group)


def list_opts():
    return {libvirt_group: libvirt_opts}
