"""The power-on flow: start a stopped guest again from its stored spec.

STOPPED -> BUILDING (same entry, id and place) -> wait for its memory as
a spawn does (normally it is all free: it was kept for the guest) ->
build the domain, or restore its saved memory -> DOMAIN. Any failure
goes back to STOPPED; the memory is never released. Recovered like a
spawn: a start interrupted before its domain ran is undone to STOPPED,
one whose domain runs is adopted.
"""

from taskflow.patterns import linear_flow

from xenballoon_driver.flows import names
from xenballoon_driver.tasks import start

FLOW_NAME = 'xenballoon-power-on'
RESERVE = FLOW_NAME + '-start-reservation'
WAIT = FLOW_NAME + '-wait-for-memory'
START = FLOW_NAME + '-start-domain'


def get_flow(backend, ledger, options, recovering=False):
    """Requires NAME and REQUEST_ID."""
    flow = linear_flow.Flow(FLOW_NAME)
    flow.add(start.StartReservation(backend, ledger, name=RESERVE,
                                    requires=(names.NAME, names.REQUEST_ID),
                                    provides=names.RESERVATION),
             start.WaitForStart(backend, ledger, options, recovering,
                                name=WAIT, requires=names.RESERVATION,
                                provides=names.BALLOON_REPORT),
             start.StartDomain(backend, ledger, recovering, name=START,
                               requires=(names.NAME, names.RESERVATION),
                               provides=names.DOMAIN))
    return flow
