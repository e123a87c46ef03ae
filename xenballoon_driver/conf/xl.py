"""[xl] options: the real Xen toolstack backend."""

from oslo_config import cfg

xl_group = cfg.OptGroup(
    'xl', title='xl toolstack backend',
    help='The "xl" hypervisor backend: runs the real xl command.')

xl_opts = [
    cfg.StrOpt('command', default='xl',
               help='Path to the xl binary (or its name on PATH).'),
    cfg.FloatOpt('command_timeout', default=60.0, min=1.0, max=3600.0,
                 help='Seconds before an xl command that is not a create '
                      'is killed and reported as a toolstack error.'),
]


def register_opts(conf):
    conf.register_group(xl_group)
    conf.register_opts(xl_opts, group=xl_group)


def list_opts():
    return {xl_group: xl_opts}
