"""[persistence] options: where flows and the reservation ledger live."""

import copy

from oslo_config import cfg

from xenballoon_driver.conf import num

persistence_group = cfg.OptGroup(
    'persistence', title='Flow persistence',
    help='Every spawn and destroy flow is stored as it runs (a taskflow '
         'logbook per request), with the host\'s reservation ledger, so '
         'that a restart can resume or revert what a crash interrupted.')

persistence_opts = [
    cfg.StrOpt('connection', default='', secret=True,
               help='Where to store flows and the ledger. Empty: '
                    'flows.sqlite in [xenballoon] state_dir (nothing to '
                    'install). sqlite:///PATH: that SQLite file. Any other '
                    'SQLAlchemy URL, e.g. postgresql+psycopg2://user@host/db '
                    'or mysql+pymysql://user@host/db, uses taskflow\'s '
                    'SQLAlchemy backend on that server.'),
    cfg.StrOpt('orphan_action', default='report',
               choices=[('report', 'log and list what is out of step'),
                        ('clean', 'also release stale reservations, drop '
                                  'ledger entries of vanished domains and '
                                  'destroy domains the ledger does not '
                                  'know')],
               help='What start-up recovery does with reservations no '
                    'live flow owns, ledger entries whose domain is gone, '
                    'and domains on the host the ledger does not know '
                    '(e.g. created by a flow whose store was lost). '
                    '"clean" destroys such domains: use it only on hosts '
                    'where every guest is this driver\'s.'),
    num.IntOpt('retention_hours', default=24, min=0, max=24 * 365,
               help='Finished flows (succeeded or reverted) are kept this '
                    'long for "xenballoon flows", then pruned at start-up. '
                    'Unfinished flows are never pruned.'),
]


def register_opts(conf):
    # A new group object per ConfigOpts: oslo.config copies a group
    # shallowly, so sharing one would share overrides between them.
    group = copy.deepcopy(persistence_group)
    conf.register_group(group)
    conf.register_opts(persistence_opts, group=group)


def list_opts():
    return {persistence_group: persistence_opts}
