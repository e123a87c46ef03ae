"""[hypervisor] options: which backend the driver talks to."""

import copy

from oslo_config import cfg

hypervisor_group = cfg.OptGroup(
    'hypervisor', title='Hypervisor backend',
    help='The toolstack backend, loaded with stevedore from the '
         'xenballoon_driver.hypervisors entry-point namespace.')

hypervisor_opts = [
    cfg.StrOpt('driver', default='simulated',
               regex=r'^[a-z][a-z0-9_.-]{0,63}$',
               help='Name of the hypervisor backend plugin. "simulated" is '
                    'the embedded default (a deterministic model of a Xen '
                    'host); an unknown name fails at start-up with the list '
                    'of installed backends.'),
]


def register_opts(conf):
    # A new group object per ConfigOpts: oslo.config copies a group
    # shallowly, so sharing one would share overrides between them.
    group = copy.deepcopy(hypervisor_group)
    conf.register_group(group)
    conf.register_opts(hypervisor_opts, group=group)


def list_opts():
    return {hypervisor_group: hypervisor_opts}
