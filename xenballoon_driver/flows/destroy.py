"""The destroy flow: destroy the domain, then give dom0 its memory back."""

from taskflow.patterns import linear_flow

from xenballoon_driver.flows import names
from xenballoon_driver.tasks import domain

FLOW_NAME = 'xenballoon-destroy'
DESTROY = FLOW_NAME + '-destroy-domain'
RELEASE = FLOW_NAME + '-release-memory'


def get_flow(backend, ledger, reinflate):
    """Build the destroy flow; requires NAME and REQUEST_ID."""
    flow = linear_flow.Flow(FLOW_NAME)
    flow.add(domain.DestroyDomain(backend, ledger, name=DESTROY,
                                  requires=(names.NAME, names.REQUEST_ID)),
             domain.ReleaseDomainMemory(backend, ledger, reinflate,
                                        name=RELEASE, requires=names.NAME,
                                        provides=names.DOM0_TARGET_AFTER))
    return flow
