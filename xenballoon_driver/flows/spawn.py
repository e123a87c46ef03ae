"""The spawn flow: reserve -> balloon dom0 -> wait -> build.

Reverts run in reverse order: destroy the partial domain, re-inflate dom0,
release the reservation. Task names are stable: persisted logbooks find
tasks by name. What each task requires and provides is declared here,
by the names of flows/names.py.
"""

from taskflow.patterns import linear_flow

from xenballoon_driver.flows import names
from xenballoon_driver.tasks import dom0
from xenballoon_driver.tasks import domain
from xenballoon_driver.tasks import memory

FLOW_NAME = 'xenballoon-spawn'
RESERVE = FLOW_NAME + '-reserve-memory'
BALLOON = FLOW_NAME + '-balloon-dom0'
WAIT = FLOW_NAME + '-wait-for-balloon'
BUILD = FLOW_NAME + '-build-domain'


def get_flow(backend, ledger, options, recovering=False, cancel=None):
    """Build the spawn flow; requires SPEC and REQUEST_ID.

    ``recovering``: the flow is being run again after a crash, to finish
    what had finished (a built domain) and undo the rest. ``cancel``: an
    event that stops the balloon wait (never stored with the flow).
    """
    flow = linear_flow.Flow(FLOW_NAME)
    flow.add(memory.ReserveMemory(backend, ledger, name=RESERVE,
                                  requires=(names.SPEC, names.REQUEST_ID),
                                  provides=names.RESERVATION),
             dom0.BalloonDom0(backend, ledger, name=BALLOON,
                              requires=names.RESERVATION),
             dom0.WaitForBalloon(backend, ledger, options, recovering,
                                 cancel, name=WAIT,
                                 requires=names.RESERVATION,
                                 provides=names.BALLOON_REPORT),
             domain.BuildDomain(backend, ledger, recovering, name=BUILD,
                                requires=(names.SPEC, names.RESERVATION),
                                provides=names.DOMAIN))
    return flow
