"""The reference scheduler: filter, weigh, pick, as Nova's does.

Each host has its own driver (hosts: a mapping of host name to
XenBalloonDriver). select_destinations reads every host afresh
(get_available_resource), keeps the hosts that pass every filter, ranks
them with the weighers and picks the best (at random among the best
[scheduler] host_subset_size); the picked host's state then takes the
request, so a second instance of the same call sees it.

With ``[jobboard] enabled``, place() also posts the spawn to the picked
host's board, where that host's xenballoon-conductor claims it; and it
counts in each host's state the spawns posted there that have not
reserved yet (posted_host_states), so that a burst of place() calls
does not overbook a host whose conductor is behind.
"""

import contextlib
import dataclasses
import random

from taskflow import exceptions as tf_exceptions

from xenballoon_driver import exception
from xenballoon_driver.flows import listing
from xenballoon_driver.flows import names
from xenballoon_driver.flows import registry
from xenballoon_driver.flows import spawn as spawn_flow
from xenballoon_driver.hypervisor import base
from xenballoon_driver.jobboard import board as board_mod
from xenballoon_driver.jobboard import posting
from xenballoon_driver.scheduler import filters
from xenballoon_driver.scheduler import host_state
from xenballoon_driver.scheduler import weighers

# A job's flow not read yet (None: read, and ended or gone).
UNREAD = object()


@dataclasses.dataclass
class Selection:
    """Where one instance goes (Nova returns Selection objects too)."""

    host: str
    weight: float
    # What the scheduler predicted: MiB dom0 must release first, and the
    # seconds that takes at the host's release rate.
    balloon_mb: int
    balloon_time_s: float


class Scheduler:
    def __init__(self, conf, rng=None):
        self.filters = [filters.BalloonMemoryFilter(conf)]
        self.weighers = [weighers.BalloonTimeWeigher(conf)]
        self.subset_size = conf.scheduler.host_subset_size
        self.max_balloon_time_s = conf.scheduler.max_balloon_time_s
        self.rng = rng or random.Random()
        self.boards = (board_mod.Boards(conf) if conf.jobboard.enabled
                       else None)
        # {host: {flow id of a job on its board: its DomainSpec; None
        # once its flow ended or went}}, as place() last saw them.
        self._specs = {}

    @staticmethod
    def host_states(hosts):
        """A HostState per host, read now from its driver."""
        return [host_state.HostState.from_resources(
            name, driver.get_available_resource(name))
            for name, driver in hosts.items()]

    def select_destinations(self, spec, hosts, num_instances=1):
        """A Selection for each of ``num_instances``, or NoValidHost.

        ``spec`` has ``name``, ``footprint_mb`` and ``vcpus`` (a
        hypervisor.base.DomainSpec).
        """
        return self._select(spec, self.host_states(hosts), num_instances)

    def _select(self, spec, states, num_instances):
        chosen = []
        for _ in range(num_instances):
            passing = [s for s in states
                       if all(f.host_passes(s, spec) for f in self.filters)]
            if not passing:
                raise self._no_valid_host(spec, states)
            best = weighers.weigh_hosts(self.weighers, passing,
                                        spec)[:self.subset_size]
            pick = self.rng.choice(best) if len(best) > 1 else best[0]
            state = pick.host_state
            need = spec.footprint_mb
            chosen.append(Selection(
                host=state.name, weight=pick.weight,
                balloon_mb=state.balloon_mb(need),
                balloon_time_s=state.balloon_time_s(need)))
            state.consume_from_request(spec)
        return chosen

    def place(self, spec, hosts, num_instances=1):
        """Pick hosts for ``spec``; post each spawn there if enabled.

        Returns a (Selection, (job, flow_id)) per instance, or (Selection,
        None) with the jobboard disabled: the caller then spawns on the
        picked host's driver itself. Instances after the first are named
        NAME-2, NAME-3, ... (as Nova's multi-create names them). A job's
        flow is saved in the picked host's flow database (the shared one)
        before the job is posted. The instances of one call see each
        other (select_destinations); those of separate calls see each
        other too: a host's state counts the spawn jobs on its board whose
        flow has not reserved yet (posted_host_states).
        """
        if self.boards is None:
            return [(selection, None) for selection in
                    self.select_destinations(spec, hosts, num_instances)]
        placed = []
        for index, selection in enumerate(self._select(
                spec, self.posted_host_states(hosts), num_instances)):
            one = spec if index == 0 else dataclasses.replace(
                spec, name='%s-%d' % (spec.name, index + 1))
            driver = hosts[selection.host]
            placed.append((selection, posting.post_spawn(
                driver, self.boards.get(driver), one)))
        return placed

    def posted_host_states(self, hosts):
        """host_states, each counting its posted spawns not reserved yet.

        Per host: the ledger's entries are read FIRST, then the host's
        figures, then its board (one listing). A job whose flow's id
        (its ledger entry's key: the flow's request id) is among those
        entries had reserved before the figures were read, which count
        it; any other is counted here. A job reserving after the entries
        were read is thus counted once (after the figures: here only) or
        twice (in between: in both, a brief overcount), never zero times;
        read after the figures, the entries could hold a reservation the
        figures lack, and the job would count nowhere.
        """
        states = []
        for name, driver in hosts.items():
            reserved = set(driver.ledger.entries())
            state = host_state.HostState.from_resources(
                name, driver.get_available_resource(name))
            board = self.boards.get(driver)
            known, seen = self._specs.get(name, {}), {}
            with contextlib.closing(
                    driver.persistence.get_connection()) as conn:
                for job in board.iterjobs():
                    spec = self._pending_spec(conn, job, reserved, known,
                                              seen)
                    if spec is not None:
                        state.count_posted(spec)
            # Only what is on the board now: never more than the board.
            self._specs[name] = seen
            states.append(state)
        return states

    @staticmethod
    def _pending_spec(conn, job, reserved, known, seen):
        """The DomainSpec of a spawn job not in ``reserved`` and not ended.

        A spec never changes, nor does an ended flow start again: both
        are kept (``known``: the last call's, ``seen``: this call's), so
        that a job's flow is read in full once, then its state only.
        """
        details = job.details or {}
        flow_id = details.get('flow_uuid')
        if (flow_id is None or flow_id in reserved or
                details.get('factory') != spawn_flow.FLOW_NAME):
            return None
        cached = seen[flow_id] = known.get(flow_id, UNREAD)
        if cached is None:
            return None  # ended or gone at an earlier look
        try:
            detail = conn.get_flow_details(flow_id,
                                           lazy=cached is not UNREAD)
        except tf_exceptions.NotFound:
            detail = None
        if detail is None or detail.state in listing.FINISHED:
            seen[flow_id] = None  # counts nothing, now and later
            return None
        if cached is UNREAD:
            try:
                cached = base.DomainSpec.from_dict(
                    registry.inputs(detail)[names.SPEC])
            except (KeyError, TypeError, ValueError):
                # A record with no usable spec: its spawn cannot reserve
                # anything either; one bad job must not stop place().
                cached = None
            seen[flow_id] = cached
        return cached

    def close(self):
        """Close the boards place() opened."""
        if self.boards is not None:
            self.boards.close()

    def _no_valid_host(self, spec, states):
        need = spec.footprint_mb
        fitting = [s for s in states if s.fits(need)]
        if not fitting:
            most = max((s.available_mb for s in states), default=0)
            reason = 'the most any of the %d host(s) can give is %d MiB' % (
                len(states), most)
        else:
            soonest = min(s.balloon_time_s(need) for s in fitting)
            reason = ('%d host(s) can free it, but none within '
                      '[scheduler] max_balloon_time_s = %.1f s (soonest: '
                      '%.1f s)' % (len(fitting), self.max_balloon_time_s,
                                   soonest))
        return exception.NoValidHost(name=spec.name, need_mb=need,
                                     reason=reason)
