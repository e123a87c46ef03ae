"""A guest's power in the ledger: stop, start, and what a stopped one keeps.

A part of Ledger (operations.py). A powered-off guest keeps its entry in
STOPPED: its memory stays promised to it (arithmetic.promised), free in
Xen and never lent to dom0, so its power-on never finds it taken by
another spawn. A start moves it to BUILDING under the same id and
sequence number and, like every build, is served before any waiting
spawn (dispatch.is_ahead: its memory was kept for it), and records the
start's flow id in ``starting``; a start that fails goes
back to STOPPED, never released. A power-off records its flow id in
``stopping`` until its domain is gone, so no start builds the guest while
its old domain is still shutting down. Every change is under the ledger's lock.
"""

import copy

from xenballoon_driver import exception
from xenballoon_driver.ledger import arithmetic as arith

RESERVED, BUILDING = arith.RESERVED, arith.BUILDING
DOMAIN, DESTROYING, STOPPED = arith.DOMAIN, arith.DESTROYING, arith.STOPPED


def find(state, name):
    """(id, entry) of the guest ``name`` in ``state``, or (None, None).

    GuestBusy while a destroy holds the name: that guest is going.
    """
    found = (None, None)
    for key, entry in state['entries'].items():
        if entry['name'] != name:
            continue
        if entry['state'] == DESTROYING:
            raise exception.GuestBusy(name=name, doing='destroyed')
        found = (key, entry)
    return found


def busy(name, entry):
    """GuestBusy saying what holds the guest."""
    if 'stopping' in entry:
        doing = 'stopped'
    elif 'starting' in entry:
        doing = 'started'
    else:
        doing = 'spawned'
    return exception.GuestBusy(name=name, doing=doing)


def reservation(res_id, entry, target_mb):
    """What a start's tasks pass on: the entry as a Reservation's dict.

    With the spec to build and the saved memory to restore, if any.
    """
    return {'id': res_id, 'name': entry['name'],
            'need_mb': entry['need_mb'],
            'from_free_mb': entry['from_free_mb'],
            'from_dom0_mb': entry['from_dom0_mb'],
            'dom0_target_mb': target_mb,
            'spec': copy.deepcopy(entry.get('spec')),
            'saved': entry.get('saved')}


class PowerOps:
    """Stop and start; needs ``storage`` and ``dom0_min_mb``."""

    def guest(self, name):
        """(id, a copy of the entry) of guest ``name``, or (None, None)."""
        with self.storage.snapshot() as state:
            key, entry = find(state, name)
            return key, copy.deepcopy(entry)

    def stopped(self):
        """{id: entry} of every STOPPED guest (copies)."""
        with self.storage.snapshot() as state:
            return {key: copy.deepcopy(e) for key, e in
                    state['entries'].items() if e['state'] == STOPPED}

    def stop(self, name, flow_id):
        """A power-off begins: DOMAIN -> STOPPED; returns (id, before).

        From now on the guest's memory is promised to it as its domain
        lets go of it; ``flow_id`` (the power-off's flow) holds it until
        stop_done. Idempotent for the same flow (a resumed power-off).
        DomainNotFound when the ledger holds no such guest, GuestBusy
        (a DomainBusy) while it is being spawned, started, stopped or
        destroyed.
        """
        with self.storage.locked() as state:
            key, entry = find(state, name)
            if entry is None:
                raise exception.DomainNotFound(name=name)
            was = entry['state']
            if was not in (DOMAIN, STOPPED) or entry.get(
                    'stopping', flow_id) != flow_id:
                raise busy(name, entry)
            entry['state'] = STOPPED
            entry['stopping'] = flow_id
            return key, was

    def stop_done(self, res_id, flow_id, saved=None):
        """The power-off's domain is gone (idempotent).

        ``saved``: where its memory was saved (a suspend), or None.
        """
        with self.storage.locked() as state:
            entry = state['entries'].get(res_id)
            if entry is not None and entry.get('stopping') == flow_id:
                del entry['stopping']
                if saved:
                    entry['saved'] = saved
                else:
                    entry.pop('saved', None)

    def unstop(self, res_id, flow_id):
        """A power-off failed with the domain still there: DOMAIN again."""
        with self.storage.locked() as state:
            entry = state['entries'].get(res_id)
            if entry is not None and entry.get('stopping') == flow_id:
                del entry['stopping']
                entry['state'] = DOMAIN
                entry.pop('saved', None)

    def start(self, name, flow_id):
        """A power-on begins: STOPPED -> BUILDING; returns reservation().

        The entry keeps its id and sequence number; ``flow_id`` (the
        start's flow) is recorded so that reconcile asks that flow, and
        so that a second call of the same start is a no-op. A running
        guest's entry comes back as it is (state DOMAIN in ``was``).
        InvalidInput for an entry an older release wrote (it keeps no
        spec to build from).
        """
        with self.storage.locked() as state:
            key, entry = find(state, name)
            if entry is None:
                raise exception.DomainNotFound(name=name)
            was = entry['state']
            if was == BUILDING and entry.get('starting') == flow_id:
                was = STOPPED  # this start, run again
            elif was not in (DOMAIN, STOPPED) or 'stopping' in entry:
                raise busy(name, entry)
            if was == STOPPED and not entry.get('spec'):
                raise exception.InvalidInput(
                    what='power-on of %s' % name,
                    reason='its ledger entry was written by an older '
                           'release and keeps no spec to build it from; '
                           'destroy it and spawn it again')
            if was == STOPPED:
                entry['state'] = BUILDING
                entry['starting'] = flow_id
            return dict(reservation(key, entry, arith.derived(
                state, self.dom0_min_mb)), was=was)

    def unstart(self, res_id, flow_id):
        """Undo start() of ``flow_id``: back to STOPPED (idempotent)."""
        with self.storage.locked() as state:
            entry = state['entries'].get(res_id)
            if entry is not None and entry.get('starting') == flow_id and (
                    entry['state'] == BUILDING):
                entry['state'] = STOPPED
                del entry['starting']

    def set_vifs(self, name, vifs):
        """Record the guest's vifs in its stored spec (from its next start).

        InvalidInput when the entry keeps no spec (an older release's).
        """
        with self.storage.locked() as state:
            _key, entry = find(state, name)
            if entry is None:
                raise exception.DomainNotFound(name=name)
            if not entry.get('spec'):
                raise exception.InvalidInput(
                    what='vifs of %s' % name,
                    reason='its ledger entry was written by an older '
                           'release and keeps no spec')
            entry['spec']['vifs'] = [dict(v) for v in vifs]
