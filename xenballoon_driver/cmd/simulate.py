"""``xenballoon simulate``: compare balloon strategies on a scenario."""

from cliff import lister

from xenballoon_driver.cmd import base
from xenballoon_driver import simulation
from xenballoon_driver.simulator import scenario as scenario_mod
from xenballoon_driver import strategies

COLUMNS = ('strategy', 'request', 'memory_mb', 'at_s', 'outcome',
           'time_to_ready_s', 'lower_bound_s', 'contention_s',
           'soft_lockups', 'dom0_final_mb', 'dom0_target_mb')


def _round(value):
    return round(value, 3) if isinstance(value, float) else value


class Simulate(base.ErrorMapping, lister.Lister):
    """Run a scenario on a simulated host with each strategy.

    Runs on a virtual clock (no waiting) and touches no host state. Times
    are in seconds from each request's arrival; lower_bound_s is the
    physical limit: dom0's release time for the missing MiB, plus the
    build. "progress" is this driver; the others reproduce xl 4.4,
    libvirt (2014) and xl 4.17.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--scenario', default='',
                            help='scenario YAML (default: the shipped 1 TiB '
                                 'host)')
        parser.add_argument('--strategy', default='all',
                            help='one of %s, or all' % ', '.join(
                                strategies.available()))
        return parser

    def take_action(self, parsed_args):
        conf = self.conf()
        scenario = scenario_mod.load(parsed_args.scenario)
        names = strategies.available()
        if parsed_args.strategy != 'all':
            if parsed_args.strategy not in names:
                raise strategies.exception.StrategyNotFound(
                    name=parsed_args.strategy,
                    available=', '.join(names) + ', all')
            names = [parsed_args.strategy]
        results = simulation.run_all(scenario, names, conf)
        rows = [tuple(_round(getattr(r, c)) for c in COLUMNS)
                for r in results]
        return COLUMNS, rows
