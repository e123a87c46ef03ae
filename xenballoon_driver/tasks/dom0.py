"""Tasks that touch dom0's balloon."""

import math

from oslo_log import log as logging
from taskflow import task

from xenballoon_driver.balloon import placement
from xenballoon_driver.balloon import progress as progress_mod
from xenballoon_driver.balloon import verdict as verdict_mod
from xenballoon_driver import exception
from xenballoon_driver.tasks import common
from xenballoon_driver.tasks import host
from xenballoon_driver.tasks import shortfall

LOG = logging.getLogger(__name__)


class BalloonDom0(common.QuietTask, host.HostTask):
    """Ask dom0 for the target the ledger derives; returns at once."""

    def execute(self, reservation):
        if not reservation.get('from_dom0_mb', 1):
            # Nothing of this spawn's comes from dom0: its target is as
            # it was, and leaving it saves toolstack calls.
            return
        target, found = self.ledger.apply_target(self.backend)
        if target is not None and target != found:
            LOG.info('Ballooning dom0 from %d MiB to %d MiB for %s', found,
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
    min_progress_mb_s was released over stall_timeout. Where the
    backend shows dom0's balloon driver (balloon_state), a pause while it
    backs off with reclaimable memory left is waited out, and a balloon
    that cancelled itself is nudged (balloon/verdict.py). A backend that
    cannot show it although dom0's balloon may pause
    (``hides_balloon_pauses``: libvirt, xl without sysfs) judges by
    progress alone over blind_stall_timeout. Looks are placed by
    balloon/placement.py. A shortfall (dom0 at its target, free memory
    still short) is asked of dom0 through the ledger, bounded by
    max_shortfall_mb and shortfall.MAX_TOPUPS.
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
        timeout = opts.stall_timeout
        if (self.backend.balloon_state() is None and
                getattr(self.backend, 'hides_balloon_pauses', False)):
            timeout = max(timeout, opts.blind_stall_timeout)
        watcher = progress_mod.ProgressWatcher(
            reservation['need_mb'], timeout,
            opts.min_progress_mb_s, opts.poll_interval,
            opts.min_poll_interval, opts.max_wait)
        judge = verdict_mod.Verdict(timeout, opts.backoff_budget_s,
                                    opts.max_nudges)
        self._nudged = False
        try:
            return self._wait(reservation, watcher, judge, timeout)
        finally:
            if self._nudged:
                # Never leave dom0 at a nudged target.
                common.safely('restoring dom0\'s target',
                              self.ledger.apply_target, self.backend)

    def _first(self, reservation, watcher):
        """The reserve's own look as the first, if it is recent enough."""
        looked = reservation.get('looked_at_s')
        if (looked is None or reservation.get('free_mb') is None or
                self.backend.clock.now() - looked > placement.REUSE_S +
                reservation.get('look_s', 0.0)):
            return None, None
        return (watcher.observe(looked, reservation['dom0_mb'],
                                reservation['free_mb']),
                reservation.get('look_s'))

    def _look(self, reservation, full):
        """(dom0, free MiB ours or None, build ahead, seconds it took)."""
        clock = self.backend.clock
        began = clock.now()
        if not full:
            return self.backend.dom0_memory(), None, False, clock.now() - began
        snap = self.backend.snapshot()
        mine, build_ahead = self.ledger.free_for(reservation['id'], snap)
        return snap.dom0, mine, build_ahead, clock.now() - began

    def _wait(self, reservation, watcher, judge, timeout):
        opts = self.options
        clock = self.backend.clock
        reasserts = looks = 0
        reported = -1.0
        topups = []
        cost = {True: None, False: None}
        prog, cost[True] = self._first(reservation, watcher)
        if prog is not None and prog.done:
            self._report(prog, reservation['dom0_mb'])
            return self._result(prog, reasserts, judge, looks, topups)
        full = prog is None or cost[True] < placement.FREE_LOOK_S
        last_full = clock.now()
        # What a full look with dom0 at its target found missing: a
        # shortfall is one that the next such look finds no smaller.
        short = None
        prelude = False
        while True:
            if self.cancel is not None and self.cancel.is_set():
                raise exception.SpawnCancelled(name=reservation['name'])
            dom0, mine, build_ahead, took = self._look(reservation, full)
            looks += 1
            cost[full] = took
            if full:
                last_full = clock.now()
            prog = watcher.observe(clock.now(), dom0.current_mb, mine)
            if prog.done or prog.fraction - reported >= 0.01:
                reported = prog.fraction
                self._report(prog, dom0.current_mb)
            if prog.done:
                return self._result(prog, reasserts, judge, looks, topups)
            ledger_target = self.ledger.target()
            restored = self._nudged
            if restored:
                # The look after a nudge: the ledger's target again.
                ledger_target, _found = self.ledger.apply_target(
                    self.backend)
                self._nudged = False
            target = (dom0.target_mb if ledger_target is None
                      else ledger_target)
            at_target = dom0.current_mb <= target
            was_short = short
            if full:
                short = prog.missing_mb if at_target else None
            want = shortfall.wanted(prog, dom0, target, was_short, short)
            if (full and want and not build_ahead and
                    ledger_target is not None and
                    shortfall.top_up(self.ledger, self.backend,
                                     self.options.max_shortfall_mb,
                                     reservation, want, prog, dom0, topups)):
                # dom0 has a new target: give it a look's time to move.
                gap, full = placement.plan(
                    prog, timeout, opts.poll_interval, cost[True],
                    cost[False], 0.0, False)
                clock.sleep(gap)
                continue
            state = self.backend.balloon_state()
            verdict = judge.judge(clock.now(), prog, state, dom0.current_mb,
                                  target)
            # Waiting behind another spawn's build is not a stalled balloon:
            # that build ends (running or reverted) and frees our way.
            stalled = verdict == verdict_mod.STALL and not build_ahead
            if stalled and not full:
                # Only a look at free memory proves it: one now.
                full = True
                continue
            if stalled or prog.timed_out:
                if state is not None:
                    LOG.info('Balloon verdict for %s: %s',
                             reservation['name'], judge.reason)
                error = (exception.BalloonTimeout if not stalled
                         else exception.BalloonStalled)
                raise error(current_mb=dom0.current_mb, target_mb=target,
                            missing_mb=prog.missing_mb,
                            stalled_s=timeout,
                            min_rate=opts.min_progress_mb_s,
                            max_wait=opts.max_wait)
            if verdict == verdict_mod.NUDGE:
                self._nudge(reservation, dom0, target, judge)
            elif (ledger_target is not None and not restored and
                  (dom0.target_mb > target or prog.grew_back)):
                # Looked again under the ledger's lock: another spawn may
                # have changed the target since this look.
                target, found = self.ledger.apply_target(self.backend)
                if found is not None and found != target:
                    LOG.warning('dom0 target is %d MiB (at %d MiB), '
                                'expected %d MiB: asserting it again', found,
                                dom0.current_mb, target)
                    reasserts += 1
            gap, full = placement.plan(
                prog, timeout, opts.poll_interval, cost[True], cost[False],
                clock.now() - last_full, at_target)
            if prelude:
                gap, full, prelude = 0.0, True, False
            elif full and placement.prelude(cost[True], cost[False]) and (
                    gap > 0 or not prog.estimated):
                # A cheap look first, the full one at once after it.
                full, prelude = False, True
            if self.cancel is None:
                clock.sleep(gap)
            else:
                clock.sleep(gap, wake=self.cancel)

    def _result(self, prog, reasserts, judge, looks, topups):
        if topups:
            LOG.warning('%d MiB more than estimated came from dom0 for '
                        'this guest (%d top-ups)', sum(topups), len(topups))
        return {'waited_s': prog.elapsed_s, 'released_mb': prog.released_mb,
                'rate_mb_s': prog.rate_mb_s, 'reasserts': reasserts,
                'nudges': judge.nudges, 'looks': looks,
                'shortfall_mb': sum(topups), 'topups': len(topups)}

    def _nudge(self, reservation, dom0, target, judge):
        # Set before the call: a nudge that half-happened is put back too.
        self._nudged = True
        nudged = self.ledger.nudge_target(self.backend)
        LOG.warning('dom0\'s balloon %s (dom0 at %d MiB, target %d MiB) for '
                    '%s: nudging it with a target of %s MiB, then %d MiB '
                    'again (nudge %d of at most %d in a row)', judge.reason,
                    dom0.current_mb, target, reservation['name'], nudged,
                    target, judge.fruitless, judge.max_nudges)

    def _report(self, prog, dom0_mb):
        # update_progress() with details: the engine stores them with the
        # progress, and a listener (the CLI's progress bar) sees them.
        self.notifier.notify(task.EVENT_UPDATE_PROGRESS, {
            'progress': prog.fraction, 'fraction': prog.fraction,
            'released_mb': prog.released_mb, 'missing_mb': prog.missing_mb,
            # JSON has no infinity: an unknown ETA is None.
            'rate_mb_s': prog.rate_mb_s,
            'eta_s': prog.eta_s if math.isfinite(prog.eta_s) else None,
            'dom0_mb': dom0_mb, 'elapsed_s': prog.elapsed_s})
