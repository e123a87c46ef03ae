"""[simulator] options: the embedded simulated Xen host."""

import copy

from oslo_config import cfg

from xenballoon_driver.conf import num

simulator_group = cfg.OptGroup(
    'simulator', title='Simulated Xen host',
    help='The "simulated" hypervisor backend: a deterministic model of a Xen '
         'host whose dom0 balloons at a configured rate.')

simulator_opts = [
    cfg.StrOpt('scenario_file', default='',
               help='YAML scenario describing the simulated host, its '
                    'balloon and build behaviour (see README). Empty means '
                    'the shipped default: a 1 TiB host whose dom0 holds '
                    '960 GiB and balloons at 680 MiB/s.'),
    cfg.StrOpt('state_file', default='',
               help='JSON file holding the simulated host between commands, '
                    'so that separate CLI commands see one host. Empty means '
                    'simulated-host.json in [xenballoon] state_dir.'),
    num.FloatOpt('time_scale', default=1.0, min=0.001, max=1.0e6,
                 help='Simulated seconds per real second for the CLI. 1 is '
                      'real time; 60 makes a 2.5-minute balloon take 2.5 s.'),
]


def register_opts(conf):
    # A new group object per ConfigOpts: oslo.config copies a group
    # shallowly, so sharing one would share overrides between them.
    group = copy.deepcopy(simulator_group)
    conf.register_group(group)
    conf.register_opts(simulator_opts, group=group)


def list_opts():
    return {simulator_group: simulator_opts}
