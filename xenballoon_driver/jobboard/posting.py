"""Posting a flow as a job, and waiting for what it did.

The flow's record (logbook, flow detail with its registry meta, inputs)
is saved in the shared flow database BEFORE its job is posted, so any
conductor of the host rebuilds it from storage alone; the job itself
carries only plain data: the flow's id, factory name and arguments.
"""

import contextlib
import time
import uuid

from taskflow import exceptions as tf_exceptions

from xenballoon_driver import exception
from xenballoon_driver.flows import engine
from xenballoon_driver.flows import listing
from xenballoon_driver.flows import names
from xenballoon_driver.flows import registry
from xenballoon_driver.flows import resume
from xenballoon_driver.flows import spawn as spawn_flow
from xenballoon_driver.hypervisor import base
from xenballoon_driver import validation

# Marks a flow record as a job's: start-up recovery leaves such a flow to
# the conductors while no task of it has run (flows/resume.py).
JOB = resume.JOB


def spawn_spec(name, memory_mb, vcpus=1, guest_type='pv', uuid=None):
    """The checked DomainSpec of a spawn, as driver.spawn checks it."""
    return base.DomainSpec(
        name=validation.domain_name(name),
        memory_mb=validation.memory_mb(memory_mb),
        vcpus=validation.vcpus(vcpus),
        guest_type=validation.guest_type(guest_type),
        uuid=None if uuid is None else validation.instance_uuid(uuid))


def post(driver, board, factory, store, request, **args):
    """Save the flow ``factory(**args)`` with ``store``, post its job.

    Returns (job, flow_id). ``args`` are plain data (stored as JSON).
    """
    flow = registry.build(driver, factory, **args)  # checks the args
    flow_id = uuid.uuid4().hex
    store = dict(store, **{names.REQUEST_ID: flow_id})
    meta = dict(registry.meta(factory, driver.host, **args), **{JOB: True})
    book, _detail = engine.new_flow_detail(driver.persistence, flow.name,
                                           request, store, meta, flow_id)
    job = board.post(request, book=book,
                     details={'flow_uuid': flow_id, 'factory': factory,
                              'args': args, 'host': driver.host})
    return job, flow_id


def post_spawn(driver, board, spec):
    """Post the spawn of ``spec`` (a DomainSpec); (job, flow_id)."""
    return post(driver, board, spawn_flow.FLOW_NAME,
                {names.SPEC: spec.to_dict()}, 'spawn %s' % spec.name)


def stored(persistence, flow_id):
    """The flow's record as stored now, or None."""
    with contextlib.closing(persistence.get_connection()) as conn:
        try:
            return conn.get_flow_details(flow_id)
        except tf_exceptions.NotFound:
            return None


def wait(driver, flow_id, poll_s, stop=None):
    """Wait until the job's flow has finished; what its tasks provided.

    Raises the flow's first failure when it was reverted (as engine.run
    does). ``stop``: an Event that ends the wait early (returns None).
    """
    while True:
        detail = stored(driver.persistence, flow_id)
        if detail is None:
            raise exception.XenBalloonException(
                'The flow %s of the job is gone from the flow database'
                % flow_id)
        if detail.state in listing.FINISHED:
            return outcome(driver, detail)
        if stop is not None:
            if stop.wait(poll_s):
                return None
        else:
            time.sleep(poll_s)


def outcome(driver, detail):
    """The results of a finished flow record, or its failure raised."""
    atoms = {atom.name: atom for atom in detail}
    if detail.state == listing.FINISHED[0]:
        record = detail.meta or {}
        flow = registry.build(driver, record['factory'],
                              **(record.get('args') or {}))
        results = {}
        for node, _meta in flow.iter_nodes():
            atom = atoms.get(node.name)
            if atom is None:
                continue
            for key, index in node.save_as.items():
                results[key] = (atom.results if index is None
                                else atom.results[index])
        return results
    failures = [atom.failure for atom in detail
                if atom.failure is not None]
    if failures:
        engine._reraise(failures[0])
    why = (detail.meta or {}).get('discarded', 'reverted')
    raise exception.XenBalloonException(
        'The job\'s flow %s ended REVERTED (%s)' % (detail.uuid, why))


def post_again(board, book, detail):
    """Post a job for a flow saved already (jobboard/sweep.py); the job.

    The job carries what post() gave it, read back from the flow's record.
    """
    record = detail.meta or {}
    return board.post(book.name, book=book,
                      details={'flow_uuid': detail.uuid,
                               'factory': record.get('factory'),
                               'args': record.get('args') or {},
                               'host': record.get('host')})
