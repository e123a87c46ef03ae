"""Tasks that start a stopped guest from the spec its ledger entry keeps.

The entry goes STOPPED -> BUILDING under its own id (StartReservation),
the memory it is promised is waited for like a spawn's (WaitForStart),
then the domain is built, or restored from its saved memory (StartDomain).
Any failure goes back to STOPPED: the memory stays the guest's.
"""

import contextlib
import dataclasses
import os

from oslo_log import log as logging

from xenballoon_driver import exception
from xenballoon_driver.hypervisor import base
from xenballoon_driver import ledger as ledger_mod
from xenballoon_driver.tasks import common
from xenballoon_driver.tasks import dom0
from xenballoon_driver.tasks import domain
from xenballoon_driver.tasks import host

LOG = logging.getLogger(__name__)
RUNNING = ledger_mod.DOMAIN


class StartReservation(common.QuietTask, host.HostTask):
    """STOPPED -> BUILDING; provides the entry as a reservation."""

    def execute(self, name, request_id):
        return self.ledger.start(name, request_id)

    def revert(self, request_id, result, **kwargs):
        if isinstance(result, dict) and result['was'] != RUNNING:
            common.safely('marking %s stopped again' % result['name'],
                          self.ledger.unstart, result['id'], request_id)


class WaitForStart(dom0.WaitForBalloon):
    """A spawn's wait, for a start: normally nothing is missing."""

    def execute(self, reservation):
        if reservation['was'] == RUNNING:
            return {}
        if self.recovering:
            raise exception.StartInterrupted(name=reservation['name'])
        return super().execute(reservation)


class StartDomain(common.QuietTask, host.HostTask):
    """Build the guest from its stored spec (or restore its memory).

    Run again by recovery: a domain that runs is adopted; one half-built
    is destroyed (by the revert) and the guest is stopped again.
    """

    def __init__(self, backend, ledger, recovering=False, **kwargs):
        super().__init__(backend, ledger, **kwargs)
        self.recovering = recovering

    def execute(self, name, reservation):
        if reservation['was'] == RUNNING:
            return dataclasses.asdict(self.backend.domain_info(name))
        spec = base.DomainSpec.from_dict(reservation['spec'])
        found = self.existing(name)
        if found is not None:
            if found.state == 'building':
                raise exception.BuildInterrupted(name=name)
            info = found  # the start had finished: adopt it
        elif self.recovering:
            raise exception.StartInterrupted(name=name)
        elif reservation.get('saved'):
            info = self.backend.restore_domain(spec, reservation['saved'])
        else:
            info = self.backend.create_domain(spec)
        self.ledger.commit(reservation['id'])
        if reservation.get('saved'):
            with contextlib.suppress(OSError):
                os.unlink(reservation['saved'])
        LOG.info('Guest %s (domid %d) started with %d MiB', name, info.domid,
                 spec.memory_mb)
        return dataclasses.asdict(info)

    def revert(self, name, reservation, result, **kwargs):
        if reservation['was'] == RUNNING:
            return
        domain.destroy_partial(self.backend, self.ledger, name,
                               'the start of %s' % name)
