"""[jobboard] options: spawns posted as jobs, claimed by a conductor."""

import copy
import urllib.parse

from oslo_config import cfg

from xenballoon_driver.conf import num

HOST_FIELD = '{host}'

jobboard_group = cfg.OptGroup(
    'jobboard', title='Scale-out: jobs on a taskflow jobboard',
    help='With the jobboard enabled, a spawn is saved in the flow '
         'database ([persistence] connection, shared by every host: '
         'PostgreSQL or MariaDB) and posted as a job on its host\'s board; '
         'the host\'s xenballoon-conductor claims it and runs it. '
         'Disabled (the default), every command runs its flow itself.')

jobboard_opts = [
    cfg.BoolOpt('enabled', default=False,
                help='Post spawns as jobs for xenballoon-conductor instead '
                     'of running them in the command that asks.'),
    cfg.StrOpt('backend', default='redis',
               choices=[('redis', 'taskflow\'s Redis jobboard'),
                        ('etcd', 'taskflow\'s etcd jobboard (etcd 3.4 or '
                                 'later, through its v3 HTTP gateway)')],
               help='The jobboard backend.'),
    cfg.StrOpt('url', default='redis://127.0.0.1:6379', secret=True,
               help='Where the board lives. redis: redis://[:PASSWORD@]'
                    'HOST[:PORT][/DB]. etcd: etcd://HOST[:PORT] (HTTP), '
                    'or http://HOST[:PORT] or https://HOST[:PORT] (a '
                    'certificate the system trusts); the port is 2379 '
                    'unless given.'),
    cfg.StrOpt('board_name', default='xenballoon-' + HOST_FIELD,
               help='The board of one host: a name in which {host} is '
                    'replaced by the host\'s name ([xenballoon] host). '
                    'Each host\'s conductor claims jobs from its own '
                    'board only.'),
    num.FloatOpt('claim_expiry_s', default=30.0, min=1.0, max=3600.0,
                 help='A conductor\'s claim on a job lapses this many '
                      'seconds after it was last refreshed (the conductor '
                      'refreshes it three times per period while the job '
                      'runs, through long balloon waits too). A dead '
                      'conductor\'s job is claimable again after at most '
                      'this long.'),
    num.FloatOpt('poll_interval_s', default=0.2, min=0.01, max=60.0,
                 help='Seconds between two looks at the board: the '
                      'conductor\'s wait for new jobs, and "xenballoon '
                      'spawn" waiting for its job\'s result.'),
    num.FloatOpt('sweep_interval_s', default=60.0, min=1.0, max=86400.0,
                 help='Seconds between two sweeps by the conductor (the '
                      'first at its start): a job\'s flow saved in the '
                      'flow database whose job is not on the board (its '
                      'poster died between the two steps, or Redis lost '
                      'its data) is posted again.'),
    num.FloatOpt('sweep_grace_s', default=30.0, min=0.0, max=86400.0,
                 help='A sweep posts again only flows saved at least this '
                      'many seconds ago (their logbook\'s creation time, '
                      'set by the poster\'s clock), so that a poster '
                      'still between saving and posting is left to post '
                      'its job itself. A duplicate job is harmless (the '
                      'flow runs once); keep this above the hosts\' clock '
                      'skew.'),
]


def check_url(url, backend='redis'):
    """The parts of ``backend``'s URL; ValueError if bad.

    redis: (host, port, db, password); etcd: (protocol, host, port).
    """
    if backend == 'etcd':
        return check_etcd_url(url)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != 'redis':
        raise ValueError('%r is not a redis:// URL' % url)
    port = _port_of_a_host(url, parts, 6379)
    path = parts.path.strip('/')
    if path and not path.isdigit():
        raise ValueError('%r: the database must be a number, not %r'
                         % (url, path))
    if parts.query or parts.fragment:
        raise ValueError('%r: no query or fragment is understood' % url)
    return parts.hostname, port, int(path or 0), parts.password


def _port_of_a_host(url, parts, default):
    """The port of a URL that must name a host; ValueError if bad."""
    try:
        port = parts.port or default
    except ValueError:
        raise ValueError('%r: the port is not a number from 0 to 65535'
                         % url)
    if not parts.hostname:
        raise ValueError('%r names no host' % url)
    return port


ETCD_SCHEMES = {'etcd': 'http', 'http': 'http', 'https': 'https'}


def check_etcd_url(url):
    """(protocol, host, port) of an etcd URL; ValueError if bad."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ETCD_SCHEMES:
        raise ValueError('%r is not an etcd URL (backend etcd): use '
                         'etcd://HOST[:PORT], http://HOST[:PORT] or '
                         'https://HOST[:PORT]' % url)
    port = _port_of_a_host(url, parts, 2379)
    if parts.username or parts.password:
        raise ValueError('%r: no user or password is understood (etcd '
                         'without authentication)' % url)
    if parts.path.strip('/') or parts.query or parts.fragment:
        raise ValueError('%r: no path, query or fragment is understood'
                         % url)
    return ETCD_SCHEMES[parts.scheme], parts.hostname, port


def check_board_name(template):
    """The template, if it names one board per host; ValueError if not."""
    if template.count(HOST_FIELD) != 1:
        raise ValueError('%r must contain %s exactly once (one board per '
                         'host)' % (template, HOST_FIELD))
    rest = template.replace(HOST_FIELD, '')
    if not rest.replace('-', '').replace('_', '').replace('.', '').isalnum():
        raise ValueError('%r: besides %s, use letters, digits, "-", "_" '
                         'or "."' % (template, HOST_FIELD))
    return template


def register_opts(conf):
    # A new group object per ConfigOpts: oslo.config copies a group
    # shallowly, so sharing one would share overrides between them.
    group = copy.deepcopy(jobboard_group)
    conf.register_group(group)
    conf.register_opts(jobboard_opts, group=group)


def list_opts():
    return {jobboard_group: jobboard_opts}
