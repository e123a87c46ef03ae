"""The reboot flow: the power-off flow's tasks, then the power-on flow's.

What a reboot posted as one job runs (cmd/power.py), so that no waiter
killed between the two leaves the guest stopped: the conductor that
claims the job runs both, and one that dies is followed by one that
finishes or reverts the whole. The tasks, their names and the ledger
states are the two flows' own (flat: its results are found by task, as
posting.outcome reads them). Reverted after its power-off part ran, the
guest stays stopped with its memory kept, as when a direct reboot's
start fails.
"""

from taskflow.patterns import linear_flow

from xenballoon_driver.flows import power_off
from xenballoon_driver.flows import power_on

FLOW_NAME = 'xenballoon-reboot'


def get_flow(backend, ledger, options, recovering=False):
    """Requires what both flows require (NAME, REQUEST_ID, TIMEOUT, ...)."""
    flow = linear_flow.Flow(FLOW_NAME)
    for part in (power_off.get_flow(backend, ledger, options, recovering),
                 power_on.get_flow(backend, ledger, options, recovering)):
        flow.add(*(task for task, _meta in part.iter_nodes()))
    return flow
