"""A deterministic model of a Xen host's memory, with time as an input.

Nothing here reads a clock: ``advance(t)`` integrates the host up to
simulated time t. Memory is float MiB inside the model (a balloon releases
fractions of a MiB per step); the backend converts to whole MiB.

Within one step every rate is constant: steps end at each whole simulated
second (where the balloon's jitter changes), at scheduled events, and every
CONTENTION_STEP_S while a build fights a running balloon.
"""

import math

from xenballoon_driver.simulator import balloon_driver
from xenballoon_driver.simulator import guests
from xenballoon_driver.simulator import oracle
from xenballoon_driver.simulator import release

EPS = 1e-6
CONTENTION_STEP_S = 0.05
SOFT_LOCKUP_EVERY_S = 20.0


class HostModel(guests.GuestOps):
    def __init__(self, scenario):
        host = scenario.host
        self.balloon, self.build = scenario.balloon, scenario.build
        self.toolstack, self.guest = scenario.toolstack, scenario.guest
        # Reported only (resource figures): nothing here uses CPUs.
        self.cpus = host.cpus
        self.now = self.released_mb = self.release_start = 0.0
        self.total_mb, self.xen_mb = float(host.total_mb), float(host.xen_mb)
        self.dom0_low_mb = float(host.dom0_low_mb)
        self.dom0_mb = self.dom0_target_mb = float(host.dom0_mb)
        self.first_request_at = None
        self.grown_back = False
        # dom0 grew on its own (balloon.drift_at_s); when a stall_after_mb
        # stall ends (balloon.stall_resume_after_s; None: not yet).
        self.drifted = False
        self.resume_at = None
        self.target_reached_at = None
        self.contention_s = 0.0
        # Contention seconds per domain name, kept after a destroy.
        self.contention_by_name = {}
        # Whether, and since when, dom0 is stuck above its target (a stall
        # or the low mark); stall_began_at is kept after it moves again.
        self.stuck = False
        self.stall_began_at = None
        # The most memory ever spoken for at once: dom0 plus the whole
        # footprint of every domain, from the start of its build.
        self.peak_committed_mb = self.dom0_mb + self.xen_mb
        self.domains = {}
        self.next_domid = 1
        # Toolstack faults used so far, by kind (scenario's toolstack).
        self.faults_used = {}
        self.consoles = {}  # each guest's console log, by name
        self._jitter = {}
        # dom0's page cache and balloon thread, if the scenario has them.
        balloon_driver.init(self)

    # -- what the toolstack can see --------------------------------------

    def dip_mb(self, t=None):
        t = self.now if t is None else t
        b = self.balloon
        if b.dip_at_s is None or not b.dip_at_s <= t < (b.dip_at_s +
                                                        b.dip_duration_s):
            return 0.0
        return b.dip_mb

    def used_by_domains_mb(self):
        return sum(d['populated_mb'] for d in self.domains.values())

    def free_mb(self):
        # Xen's own, the shortfall it kept of dom0's release included.
        free = (self.total_mb - self.xen_mb - release.kept_mb(self) -
                self.dom0_mb - self.used_by_domains_mb())
        return max(0.0, free - self.dip_mb())

    @property
    def soft_lockups(self):
        return int(self.contention_s // SOFT_LOCKUP_EVERY_S)

    def balloon_can_release(self):
        """True while dom0 is above its target and can still shrink."""
        if self.dom0_mb <= self.dom0_target_mb + EPS:
            return False
        if (self.dom0_mb <= self.dom0_low_mb + EPS or
                balloon_driver.canceled(self)):
            return False
        return self._stall_room() > EPS

    # -- what the toolstack can do ---------------------------------------

    def set_dom0_target(self, target_mb):
        old_target, lowering = self.dom0_target_mb, target_mb < (
            self.dom0_mb - EPS)
        if lowering and self.dom0_target_mb >= self.dom0_mb - EPS:
            # dom0's balloon thread wakes up and starts releasing.
            self.release_start = self.now + self.balloon.start_delay_s
        if lowering and self.first_request_at is None:
            self.first_request_at = self.now
        self.dom0_target_mb = float(target_mb)
        self.target_reached_at = None
        balloon_driver.target_changed(self, old_target)

    def start_build(self, name, footprint_mb, vcpus, fail_at_fraction=None,
                    uuid=None):
        if fail_at_fraction is None:
            fail_at_fraction = self.fails_at(name)
        # 'uuid': the instance's; a state saved before has none (.get()).
        self.domains[name] = {
            'domid': self.next_domid, 'footprint_mb': float(footprint_mb),
            'vcpus': vcpus, 'populated_mb': 0.0, 'state': 'building',
            'fail_at_fraction': fail_at_fraction, 'reason': None,
            'contention_s': 0.0, 'uuid': uuid}
        self.next_domid += 1

    def fails_at(self, name):
        """Where the build of ``name`` fails (the build section), or None."""
        return (self.build.fail_domains or {}).get(
            name, self.build.fail_at_fraction)

    def destroy(self, name):
        del self.domains[name]

    def take_fault(self, kind, budget):
        """Whether this call is one of the first ``budget`` of ``kind``."""
        used = self.faults_used.get(kind, 0)
        if used >= budget:
            return False
        self.faults_used[kind] = used + 1
        return True

    # -- time ------------------------------------------------------------

    def advance(self, t):
        while True:
            self.guest_events()  # guests whose shutdown is over go
            if self.now >= t - 1e-9:
                return
            self._step(min(t, self._next_boundary(),
                           self.next_guest_event()) - self.now)

    def _next_boundary(self):
        now = self.now
        marks = []
        if abs(self.dom0_mb - self.dom0_target_mb) > EPS:
            # The balloon's rate (jitter) changes every whole second; an
            # idle host needs no steps at all.
            marks.append(math.floor(now + 1e-9) + 1.0)
        b = self.balloon
        if self.release_start > now:
            marks.append(self.release_start)
        if (b.grow_back_after_s is not None and not self.grown_back and
                self.first_request_at is not None):
            marks.append(self.first_request_at + b.grow_back_after_s)
        marks.append(balloon_driver.next_event(
            self, release.decayed_rate(self, release.base_rate(self))))
        marks.extend(release.marks(self))
        if b.dip_at_s is not None:
            marks.extend(m for m in (b.dip_at_s, b.dip_at_s +
                                     b.dip_duration_s) if m > now)
        building = self._building()
        if building:
            if self.free_mb() >= sum(self.remaining_mb(d) for d in building):
                rate = self.build.populate_rate_mb_s
                marks.extend(now + self.remaining_mb(d) / rate
                             for d in building)
            else:
                marks.append(now + CONTENTION_STEP_S)
        if not marks:
            return math.inf
        return max(min(marks), now + 1e-6)

    def _building(self):
        return [d for d in self.domains.values() if d['state'] == 'building']

    @staticmethod
    def remaining_mb(dom):
        """MiB a building domain still has to populate (to its failure)."""
        goal = dom['footprint_mb']
        if dom['fail_at_fraction'] is not None:
            goal = min(goal, dom['footprint_mb'] * dom['fail_at_fraction'])
        return max(0.0, goal - dom['populated_mb'])

    def _stall_room(self):
        return release.stall_room(self)

    def jitter_factor(self, second):
        return release.jitter_factor(self, second)

    def _step(self, dt):
        b = self.balloon
        if release.events(self):
            balloon_driver.credit_changed(self)
        balloon_driver.wake_due(self)
        if self.stuck and self.balloon_can_release():
            self.stuck = False
        building = self._building()
        free_before = self.free_mb()
        releasing = self.balloon_can_release()
        contending = releasing and any(
            free_before + EPS < self.remaining_mb(d) for d in building)

        release.grow_back(self)
        rate = release.base_rate(self)
        if contending:
            rate *= self.build.contention_slowdown
        # The rate at this step's start (a decaying rate falls within it).
        rate_now = release.decayed_rate(self, rate)
        if self.dom0_mb > self.dom0_target_mb + EPS:
            balloon_driver.reclaim(self, dt)
            if not releasing and not self.stuck:
                self.stuck = True
                self.stall_began_at = self.now
            if releasing and self.now >= self.release_start - 1e-9:
                stall_room = self._stall_room()
                room = min(self.dom0_mb - max(self.dom0_target_mb,
                                              self.dom0_low_mb), stall_room)
                x0 = self.released_mb
                move = min(release.amount(self, rate, dt), room)
                if balloon_driver.modelled(self):
                    move = balloon_driver.limit(self, move)
                if move >= room - EPS:
                    # Land exactly on the bound: no float drift in MiB.
                    move = room
                    self.dom0_mb = self.dom0_mb - room
                    if self.dom0_mb - self.dom0_target_mb <= EPS:
                        self.dom0_mb = self.dom0_target_mb
                else:
                    self.dom0_mb -= move
                self.released_mb += move
                if self.step_supply is None:
                    reach = release.seconds(self, x0, room, rate)
                else:
                    reach = balloon_driver.seconds_for(self, room, rate_now)
                if move >= room - EPS and stall_room <= room + EPS:
                    release.stalled_at(self, self.now + reach)
                if room - move <= EPS and self.dom0_mb > (
                        self.dom0_target_mb + EPS) and not self.stuck:
                    self.stuck = True
                    self.stall_began_at = self.now + reach
                if move >= room - EPS and (self.dom0_mb <=
                                           self.dom0_target_mb + EPS):
                    self.target_reached_at = self.now + reach
            balloon_driver.after_step(self, self.now + dt, rate_now)
        elif self.dom0_mb < self.dom0_target_mb - EPS:
            gap = self.dom0_target_mb - self.dom0_mb
            move = min(b.reinflate_rate_mb_s * dt, gap, self.free_mb())
            self.dom0_mb = (self.dom0_target_mb if move >= gap - EPS
                            else self.dom0_mb + move)

        if building:
            self._populate(building, dt, releasing)
        committed = self.xen_mb + release.kept_mb(self) + self.dom0_mb + \
            sum(d['footprint_mb'] for d in self.domains.values())
        self.peak_committed_mb = max(self.peak_committed_mb, committed)
        if contending:
            self.contention_s += dt
            # Those building at the start of the step, finished or not.
            for name, d in self.domains.items():
                if any(d is b for b in building):
                    d['contention_s'] += dt
                    self.contention_by_name[name] = d['contention_s']
        self.now += dt

    def _populate(self, building, dt, releasing):
        free = self.free_mb()
        wants = [min(self.build.populate_rate_mb_s * dt, self.remaining_mb(d))
                 for d in building]
        total = sum(wants)
        share = 1.0 if total <= free + EPS else free / total
        for dom, want in zip(building, wants):
            dom['populated_mb'] += want * share
            remaining = self.remaining_mb(dom)
            frac = dom['fail_at_fraction']
            if remaining <= EPS and frac is not None:
                dom['state'] = 'crashed'
                dom['reason'] = ('simulated build failure at %d%% of its '
                                 'memory' % round(frac * 100))
            elif remaining <= EPS:
                dom['populated_mb'] = dom['footprint_mb']
                dom['state'] = 'running'
            elif share < 1.0 and not releasing:
                # Nothing more is coming: populate_physmap fails.
                dom['state'] = 'crashed'
                dom['reason'] = 'out of memory while populating'

    # -- the physical limit ----------------------------------------------

    def release_time(self, mb):
        """Seconds from now for dom0 to free ``mb`` MiB (oracle.py)."""
        return oracle.release_time(self, mb)
