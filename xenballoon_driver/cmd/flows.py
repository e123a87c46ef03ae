"""``xenballoon flows`` and ``xenballoon recover``."""

from xenballoon_driver.cmd import base


class ListFlows(base.Lister):
    """List stored flows (spawn, destroy, power-off, power-on), newest first.

    Only this host's flows ([xenballoon] host). state is taskflow's:
    RUNNING or REVERTING for a flow in progress (or interrupted: see
    "recover"), SUCCESS, REVERTED; or QUARANTINED for a record recovery
    cannot rebuild (see "recover"). progress is the share of its tasks
    done. --discard FLOW_ID closes a quarantined flow once you have
    checked the host by hand.
    """

    COLUMNS = ('request', 'state', 'age_s', 'progress', 'kind', 'flow_id')

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--discard', metavar='FLOW_ID', default=None,
                            help='close this quarantined flow as REVERTED')
        return parser

    def take_action(self, parsed_args):
        driver = self.driver(recover=False)
        if parsed_args.discard is not None:
            driver.discard_flow(parsed_args.discard)
        rows = [(r.request, r.state, round(r.age_s, 1),
                 round(r.progress, 2), r.kind, r.flow_id)
                for r in driver.list_flows()]
        return self.COLUMNS, rows


class Recover(base.Lister):
    """Resume or revert interrupted flows; report what is out of step.

    Safe to run at any time: only this host's flows are touched, each
    re-read under its lock; flows that another process is running are
    left alone. A flow whose record cannot be rebuilt is reported as
    quarantined every time, until "flows --discard" closes it. Orphans
    (stale reservations, vanished or unknown domains) are only reported
    unless [persistence] orphan_action = clean.
    """

    COLUMNS = ('what', 'name', 'outcome', 'detail')

    def take_action(self, parsed_args):
        driver = self.driver(recover=False)
        recovered, orphans = driver.recover()
        rows = [('flow', r.request, r.outcome,
                 'was %s%s' % (r.was, ': ' + r.error if r.error else ''))
                for r in recovered]
        rows += [(o.kind, o.name, o.action, o.detail) for o in orphans]
        return self.COLUMNS, rows
