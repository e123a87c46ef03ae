"""[libvirt] options: the libvirt backend."""

from oslo_config import cfg

libvirt_group = cfg.OptGroup(
    'libvirt', title='libvirt backend',
    help='The "libvirt" hypervisor backend: talks to libvirtd through '
         'libvirt-python.')

libvirt_opts = [
    cfg.StrOpt('uri', default='xen:///system',
               help='libvirt connection URI.'),
]


def register_opts(conf):
    conf.register_group(libvirt_group)
    conf.register_opts(libvirt_opts, group=libvirt_group)


def list_opts():
    return {libvirt_group: libvirt_opts}
