"""The power-off flow: mark the guest stopped, then stop its domain.

Also a suspend's (SAVE_PATH given): its memory is saved, not lost. The
ledger entry goes STOPPED first, so the guest's memory is promised to it
from the moment its domain lets go of it. Recovered like a spawn: a
power-off interrupted is finished (its domain destroyed at once, a
suspend's saved again); one that failed with the domain still there is
undone (DOMAIN again).
"""

from taskflow.patterns import linear_flow

from xenballoon_driver.flows import names
from xenballoon_driver.tasks import power

FLOW_NAME = 'xenballoon-power-off'
MARK = FLOW_NAME + '-mark-stopped'
STOP = FLOW_NAME + '-stop-domain'


def get_flow(backend, ledger, options, recovering=False):
    """Requires NAME, REQUEST_ID, TIMEOUT, RETRY_INTERVAL, SAVE_PATH."""
    flow = linear_flow.Flow(FLOW_NAME)
    flow.add(power.MarkStopped(backend, ledger, name=MARK,
                               requires=(names.NAME, names.REQUEST_ID),
                               provides=names.STOPPING),
             power.StopDomain(backend, ledger, options, recovering,
                              name=STOP,
                              requires=(names.NAME, names.STOPPING,
                                        names.REQUEST_ID, names.TIMEOUT,
                                        names.RETRY_INTERVAL,
                                        names.SAVE_PATH),
                              provides=names.POWER_OFF))
    return flow
