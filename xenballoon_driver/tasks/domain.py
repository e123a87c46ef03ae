"""Tasks that touch guest domains."""

import contextlib
import dataclasses
import os

from oslo_log import log as logging
from taskflow.types import failure

from xenballoon_driver import exception
from xenballoon_driver.hypervisor import base
from xenballoon_driver import ledger as ledger_mod
from xenballoon_driver.tasks import common
from xenballoon_driver.tasks import host

LOG = logging.getLogger(__name__)


class BuildDomain(common.QuietTask, host.HostTask):
    """Build the domain; turn its reservation into the domain's.

    ``recovering``: run by start-up recovery after a crash. Then a build
    that had finished is adopted, and anything else is undone: the one who
    asked for this guest is gone.
    """

    def __init__(self, backend, ledger, recovering=False, **kwargs):
        super().__init__(backend, ledger, **kwargs)
        self.recovering = recovering

    def execute(self, spec, reservation):
        spec = base.DomainSpec.from_dict(spec)
        was = self.ledger.mark_building(reservation['id'])
        if was != ledger_mod.RESERVED:
            # Run again after a crash: the create may have happened.
            found = self.existing(spec.name)
            if found is not None and (was == ledger_mod.DOMAIN or
                                      found.state == 'running'):
                self.ledger.commit(reservation['id'])
                return dataclasses.asdict(found)  # finished: adopt it
            if found is not None:
                raise exception.BuildInterrupted(name=spec.name)
        if self.recovering:
            raise exception.Interrupted(name=spec.name)
        info = self.backend.create_domain(spec)
        self.ledger.commit(reservation['id'])
        LOG.info('Domain %s (domid %d) running with %d MiB', info.name,
                 info.domid, spec.memory_mb)
        # A shortfall top-up that a passing dip made look needed: back to
        # dom0 now (the guest runs; a failure here only leaves it owed).
        try:
            given = self.ledger.return_top_up(self.backend, reservation['id'])
        except exception.XenBalloonException as err:
            given = 0
            LOG.warning('Could not check whether the shortfall top-up for '
                        '%s was needed: %s; it stays with the guest and '
                        'goes back to dom0 when the guest goes', spec.name,
                        ledger_mod.one_line(err))
        if given:
            LOG.info('Gave dom0 back %d MiB of the shortfall top-up for %s: '
                     'free memory shows they were not needed', given,
                     spec.name)
        return dataclasses.asdict(info)

    def revert(self, spec, result, **kwargs):
        if isinstance(result, failure.Failure) and result.check(
                exception.DomainExists):
            return  # the domain is someone else's: leave it alone
        name = base.DomainSpec.from_dict(spec).name
        destroy_partial(self.backend, self.ledger, name,
                        'the spawn of %s' % name)


def destroy_partial(backend, ledger, name, what):
    """In a revert: whatever the toolstack left of our domain goes.

    None is fine. One that cannot be destroyed is owed (recorded in the
    ledger), so reconcile knows it and recover destroys it.
    """
    def destroy():
        try:
            backend.destroy_domain(name)
            LOG.info('Destroyed partly built domain %s', name)
        except exception.DomainNotFound:
            pass

    def owe(err):
        ledger.owe_destroy(name, 'the revert of %s could not destroy it: '
                           '%s' % (what, ledger_mod.one_line(err)))
        return 'recorded: "xenballoon recover" destroys it'
    common.safely('destroying %s' % name, destroy, on_error=owe)


class DestroyDomain(common.QuietTask, host.HostTask):
    """Destroy the domain; DomainBusy while a spawn of it is under way.

    Runs before ReleaseDomainMemory: a destroy that fails (or an xl
    destroy that exits 0 and leaves the domain, which the backend raises)
    fails the flow here, and its revert drops only the hold on the name,
    so the domain's ledger entry stays as long as the domain does.
    """

    def execute(self, name, request_id):
        # Holds the name: no spawn of it can build before the destroy.
        known = self.ledger.hold_for_destroy(self.backend, request_id, name)
        try:
            self.backend.destroy_domain(name)
        except exception.DomainNotFound:
            if not known:
                raise
            if any(e['name'] == name and e['state'] == ledger_mod.STOPPED
                   for e in self.ledger.entries().values()):
                LOG.info('Guest %s is stopped: dropping its reservation',
                         name)
                return
            LOG.warning('Domain %s was already gone; dropping its ledger '
                        'entry', name)

    def revert(self, request_id, **kwargs):
        common.safely('releasing the hold on the name', self.ledger.release,
                      request_id)


class ReleaseDomainMemory(common.QuietTask, host.HostTask):
    """Drop the domain's ledger entry; re-inflate dom0 if configured.

    A re-inflate that fails does not fail the destroy (the domain is
    gone): the ledger keeps what dom0 is owed and says so in one line.
    Returns dom0's target as the ledger derives it.
    """

    def __init__(self, backend, ledger, reinflate, **kwargs):
        super().__init__(backend, ledger, **kwargs)
        self.reinflate = reinflate

    def execute(self, name):
        saved = [e.get('saved') for e in self.ledger.entries().values()
                 if e['name'] == name and e.get('saved')]
        self.ledger.forget_domain(name, self.reinflate)
        for path in saved:  # a suspended guest's memory, on disk
            with contextlib.suppress(OSError):
                os.unlink(path)
        return self.ledger.apply_target(self.backend)[0]
