"""Tasks that touch dom0's balloon."""

import math

from oslo_log import log as logging
from taskflow import task

from xenballoon_driver.balloon import progress as progress_mod
from xenballoon_driver import exception
from xenballoon_driver.tasks import common
from xenballoon_driver.tasks import host

LOG = logging.getLogger(__name__)


class BalloonDom0(common.QuietTask, host.HostTask):
    """Ask dom0 for the target the ledger derives; returns at once."""

    def execute(self, reservation):
        before = self.backend.dom0_memory().target_mb
        target, _found = self.ledger.apply_target(self.backend)
        if target is not None and target != before:
            LOG.info('Ballooning dom0 from %d MiB to %d MiB for %s', before,
                     target, reservation['name'])

    def revert(self, reservation, result, **kwargs):
        # Re-inflate: give back what this spawn took from dom0, then let the
        # ledger say what dom0's target is now.
        common.safely('returning dom0 memory', self.ledger.return_dom0,
                      reservation['id'])
        target, _found = common.safely('re-inflating dom0',
                                       self.ledger.apply_target,
                                       self.backend) or (None, None)
        LOG.info('Re-inflating dom0 to %s MiB after %s failed', target,
                 reservation['name'])


class WaitForBalloon(host.HostTask):
    """Wait while ballooning makes progress; fail fast when it stalls.

    Ends when free memory not promised to any other spawn covers this one
    (no early build), never because of time alone unless max_wait is set
    (no false NOMEM), and with BalloonStalled when less than
    min_progress_mb_s was released over stall_timeout.
    """

    def __init__(self, backend, ledger, options, recovering=False,
                 cancel=None, **kwargs):
        super().__init__(backend, ledger, **kwargs)
        self.options = options
        # Run again by start-up recovery: the one waiting is gone.
        self.recovering = recovering
        # A threading.Event the caller sets to stop waiting (the CLI's
        # Ctrl-C); the flow then reverts as on any failure.
        self.cancel = cancel

    def execute(self, reservation):
        if self.recovering:
            raise exception.Interrupted(name=reservation['name'])
        opts = self.options
        clock = self.backend.clock
        watcher = progress_mod.ProgressWatcher(
            reservation['need_mb'], opts.stall_timeout,
            opts.min_progress_mb_s, opts.poll_interval,
            opts.min_poll_interval, opts.max_wait)
        reasserts = 0
        reported = -1.0
        while True:
            if self.cancel is not None and self.cancel.is_set():
                raise exception.SpawnCancelled(name=reservation['name'])
            snap = self.backend.snapshot()
            dom0 = snap.dom0
            mine, build_ahead = self.ledger.free_for(reservation['id'],
                                                     snap)
            prog = watcher.observe(clock.now(), dom0.current_mb, mine)
            if prog.done or prog.fraction - reported >= 0.01:
                reported = prog.fraction
                self._report(prog, dom0)
            if prog.done:
                return {'waited_s': prog.elapsed_s,
                        'released_mb': prog.released_mb,
                        'rate_mb_s': prog.rate_mb_s, 'reasserts': reasserts}
            target = self.ledger.target()
            # Waiting behind another spawn's build is not a stalled balloon:
            # that build ends (running or reverted) and frees our way.
            stalled = prog.stalled and not build_ahead
            if stalled or prog.timed_out:
                if target is None:
                    target = dom0.target_mb
                error = (exception.BalloonTimeout if not stalled
                         else exception.BalloonStalled)
                raise error(current_mb=dom0.current_mb, target_mb=target,
                            missing_mb=prog.missing_mb,
                            stalled_s=opts.stall_timeout,
                            min_rate=opts.min_progress_mb_s,
                            max_wait=opts.max_wait)
            if target is not None and (dom0.target_mb > target or
                                       prog.grew_back):
                # Looked again under the ledger's lock: another spawn may
                # have changed the target since this look.
                target, found = self.ledger.apply_target(self.backend)
                if found is not None and found != target:
                    LOG.warning('dom0 target is %d MiB (at %d MiB), '
                                'expected %d MiB: asserting it again', found,
                                dom0.current_mb, target)
                    reasserts += 1
            if self.cancel is None:
                clock.sleep(prog.next_poll_s)
            else:
                clock.sleep(prog.next_poll_s, wake=self.cancel)

    def _report(self, prog, dom0):
        # update_progress() with details: the engine stores them with the
        # progress, and a listener (the CLI's progress bar) sees them.
        self.notifier.notify(task.EVENT_UPDATE_PROGRESS, {
            'progress': prog.fraction, 'fraction': prog.fraction,
            'released_mb': prog.released_mb, 'missing_mb': prog.missing_mb,
            # JSON has no infinity: an unknown ETA is None.
            'rate_mb_s': prog.rate_mb_s,
            'eta_s': prog.eta_s if math.isfinite(prog.eta_s) else None,
            'dom0_mb': dom0.current_mb, 'elapsed_s': prog.elapsed_s})
