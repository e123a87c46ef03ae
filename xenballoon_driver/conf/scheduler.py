"""[scheduler] options: the balloon-aware filter, weigher and figures."""

import copy

from oslo_config import cfg

from xenballoon_driver.conf import num

scheduler_group = cfg.OptGroup(
    'scheduler', title='Balloon-aware scheduling',
    help='How hosts report ballooning to a scheduler, and how the '
         'reference scheduler (xenballoon_driver.scheduler) filters and '
         'weighs them: a host whose dom0 holds most of the RAM is not '
         'full, but memory that dom0 must first give back costs time.')

scheduler_opts = [
    num.FloatOpt('default_release_rate_mb_s', default=680.0, min=1.0,
                 max=1.0e6,
                 help='MiB/s at which dom0 is assumed to give memory back '
                      'until this driver has measured it. Each spawn that '
                      'waited for the balloon updates the host\'s measured '
                      'rate (kept by the driver process). The default is '
                      'the rate of the 2014 xen-devel report: 100 GiB in '
                      'about 2.5 minutes.'),
    num.FloatOpt('balloon_time_weight_multiplier', default=1.0, min=0.0,
                 max=1000.0,
                 help='Multiplier of the balloon time weigher, which '
                      'prefers hosts where a request is ready sooner: MiB '
                      'that dom0 must still release (for this request and '
                      'the ones placed before it) divided by the host\'s '
                      'release rate. Weights are normalised to 0..1 across '
                      'hosts (under Nova: on the scale of '
                      'balloon_time_weight_horizon_s), then multiplied by '
                      'this. 0 turns the weigher off. Under Nova\'s default '
                      'weighers, set 300 (README.rst, Nova).'),
    num.FloatOpt('balloon_time_weight_horizon_s', default=300.0, min=1.0,
                 max=86400.0,
                 help='Under Nova (nova.virt.xenballoon.scheduler.'
                      'BalloonTimeWeigher) the balloon time weigher is '
                      'normalised on a fixed scale instead of across the '
                      'hosts: a host weighs 1 - t / this (t its predicted '
                      'seconds of ballooning, at most this), times the '
                      'multiplier. So each second of ballooning costs '
                      'multiplier / horizon, however many hosts are '
                      'weighed, and hosts with the memory free now tie at '
                      '1 (Nova\'s other weighers then decide). The '
                      'reference scheduler normalises across hosts.'),
    num.FloatOpt('max_balloon_time_s', default=0.0, min=0.0,
                 max=86400.0,
                 help='The balloon memory filter also rejects a host on '
                      'which the request would wait longer than this many '
                      'seconds for dom0 to release its memory (predicted '
                      'from the host\'s release rate). 0 means no limit: '
                      'any host that can free the memory passes.'),
    num.IntOpt('host_subset_size', default=1, min=1, max=1000,
               help='Pick at random among this many of the best weighed '
                    'hosts, as Nova\'s [filter_scheduler] '
                    'host_subset_size does. 1 always picks the best host; '
                    'with the weigher off, a size at least the number of '
                    'hosts places at random among those that pass.'),
    num.FloatOpt('cpu_allocation_ratio', default=4.0, min=0.0001,
                 max=1000.0,
                 help='Allocation ratio of the VCPU inventory published by '
                      'update_provider_tree (Nova\'s '
                      'initial_cpu_allocation_ratio is 4.0). Memory is '
                      'never overcommitted: MEMORY_MB always has 1.0.'),
]


def register_opts(conf):
    # A new group object per ConfigOpts: oslo.config copies a group
    # shallowly, so sharing one would share overrides between them.
    group = copy.deepcopy(scheduler_group)
    conf.register_group(group)
    conf.register_opts(scheduler_opts, group=group)


def list_opts():
    return {scheduler_group: scheduler_opts}
