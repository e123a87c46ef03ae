"""``xenballoon simulate``: compare balloon strategies on a scenario.

A multi-host scenario (``hosts:``) is placed by the reference scheduler
instead: one row per request, or per host with ``--report hosts``.
"""

from xenballoon_driver.cmd import base
from xenballoon_driver import exception
from xenballoon_driver.simulator import fleet
from xenballoon_driver.simulator import runner
from xenballoon_driver.simulator import scenario as scenario_mod
from xenballoon_driver.simulator import strategies

COLUMNS = ('strategy', 'request', 'memory_mb', 'at_s', 'outcome',
           'time_to_ready_s', 'lower_bound_s', 'contention_s',
           'soft_lockups', 'dom0_final_mb', 'dom0_target_mb')
FLEET_REQUEST_COLUMNS = ('request', 'memory_mb', 'at_s', 'host', 'outcome',
                         'time_to_ready_s', 'balloon_mb', 'predicted_s')
FLEET_HOST_COLUMNS = ('host', 'total_mb', 'release_rate_mb_s',
                      'measured_rate_mb_s', 'guests', 'guest_mb', 'dom0_mb',
                      'free_mb', 'available_mb', 'peak_committed_mb',
                      'overcommit_mb')


def _round(value):
    return round(value, 3) if isinstance(value, float) else value


class Simulate(base.Lister):
    """Run a scenario on a simulated host with each strategy.

    Runs on a virtual clock (no waiting) and touches no host state. Times
    are in seconds from each request's arrival; lower_bound_s is the
    physical limit: dom0's release time for the missing MiB, plus the
    build. "progress" is this driver; the others reproduce xl 4.4,
    libvirt (2014) and xl 4.17.

    A scenario with a hosts: list is a fleet: each request is placed by
    the balloon-aware scheduler ([scheduler] options) and spawned by this
    driver on its host. Per request: the host chosen (empty: refused),
    outcome, time_to_ready_s, and the scheduler's prediction (balloon_mb
    dom0 had to release first, predicted_s to release it). --report hosts
    shows each host instead.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--scenario', default='',
                            help='scenario YAML (default: the shipped 1 TiB '
                                 'host)')
        parser.add_argument('--strategy', default='all',
                            help='one of %s, or all' % ', '.join(
                                strategies.available()))
        parser.add_argument('--report', choices=('requests', 'hosts'),
                            default='requests',
                            help='multi-host scenarios: a row per request '
                                 '(default) or per host')
        return parser

    def take_action(self, parsed_args):
        conf = self.conf()
        scenario = scenario_mod.load(parsed_args.scenario)
        if scenario.hosts:
            return self._fleet(scenario, conf, parsed_args)
        names = runner.strategy_names(parsed_args.strategy)
        results = runner.run_all(scenario, names, conf)
        rows = [tuple(_round(getattr(r, c)) for c in COLUMNS)
                for r in results]
        return COLUMNS, rows

    @staticmethod
    def _fleet(scenario, conf, parsed_args):
        if parsed_args.strategy not in ('all', strategies.OURS):
            raise exception.InvalidInput(
                what='--strategy', reason='%r: a multi-host scenario runs '
                'this driver (%s) only' % (parsed_args.strategy,
                                           strategies.OURS))
        requests, hosts = fleet.run_fleet(scenario, conf)
        if parsed_args.report == 'hosts':
            columns, results = FLEET_HOST_COLUMNS, hosts
        else:
            columns, results = FLEET_REQUEST_COLUMNS, requests
        return columns, [tuple(_round(getattr(r, c)) for c in columns)
                         for r in results]
