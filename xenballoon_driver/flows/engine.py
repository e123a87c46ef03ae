"""One helper runs every flow, with the same listeners attached."""

import contextlib
import os
import uuid

from oslo_log import log as logging
from taskflow import engines
from taskflow import exceptions as tf_exceptions
from taskflow.listeners import logging as logging_listener
from taskflow.persistence import models
from taskflow import states
from taskflow import task as tf_task

from xenballoon_driver import exception
from xenballoon_driver.flows import registry
from xenballoon_driver import locks

LOG = logging.getLogger(__name__)
PROGRESS = tf_task.EVENT_UPDATE_PROGRESS


@contextlib.contextmanager
def owning(lock_dir, flow_id):
    """Hold the flow's lock while it runs: recovery skips held flows.

    flock: the kernel drops it when the holder dies, and two opens in one
    process exclude each other too.
    """
    if lock_dir is None:
        yield
        return
    path = locks.flow_path(lock_dir, flow_id)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(locks.try_hold(path))
        except locks.Held:
            raise exception.FlowBusy(flow_id=flow_id)
        try:
            yield
        finally:
            # A waiter that opened the file before this unlink may still
            # lock it: it then re-reads the finished flow and leaves it.
            with contextlib.suppress(OSError):
                os.unlink(path)


def new_flow_detail(backend, flow_name, request, store, meta=None,
                    flow_id=None):
    """Save a new flow record, with its inputs, in one write.

    The logbook, its flow detail (``meta`` says how to rebuild the flow:
    see registry.py) and taskflow's injector atom holding ``store`` are
    saved together, so no reader ever finds a flow without its inputs.
    """
    book = models.LogBook(request)
    detail = models.FlowDetail(flow_name, uuid=flow_id or uuid.uuid4().hex)
    detail.state = states.PENDING
    detail.meta = dict(meta or {})
    injected = models.TaskDetail(registry.INJECTOR, uuid.uuid4().hex)
    injected.results = dict(store)
    injected.state = states.SUCCESS
    detail.add(injected)
    book.add(detail)
    with contextlib.closing(backend.get_connection()) as conn:
        conn.save_logbook(book)
    return book, detail


def run(flow, store, progress=None, persistence=None, request=None,
        lock_dir=None, meta=None):
    """Run ``flow`` to the end and return everything its tasks provided.

    With a ``persistence`` backend the flow is stored as it runs, in a
    logbook named ``request`` whose flow detail carries ``meta`` (see
    registry.py), and ``store['request_id']`` is its flow detail's uuid.
    The flow's lock is taken before its record is first saved and held
    until it ends: recovery never finds it unlocked while it runs.
    On failure the flow has already been reverted; the first task error
    is raised as it was (not wrapped), so callers see the project's
    exception. ``progress(task_name, details)`` is told of every progress
    update.
    """
    store = dict(store)
    flow_id = uuid.uuid4().hex
    if persistence is not None:
        store['request_id'] = flow_id
    else:
        store.setdefault('request_id', flow_id)
    with owning(lock_dir, store['request_id']):
        if persistence is None:
            engine = engines.load(flow, store=store, engine='serial')
        else:
            book, detail = new_flow_detail(persistence, flow.name,
                                           request or flow.name, store,
                                           meta, flow_id)
            engine = engines.load(flow, flow_detail=detail, book=book,
                                  backend=persistence, engine='serial')
        return run_engine(engine, flow, progress)


def run_engine(engine, flow, progress=None):
    if progress is not None:
        for atom in flow.iter_nodes():
            task = atom[0]
            if task.notifier.can_be_registered(PROGRESS):
                task.notifier.register(
                    PROGRESS,
                    lambda event, details, name=task.name: progress(
                        name, dict(details)))
    # Failures reach the caller as exceptions; their tracebacks are for -v.
    with logging_listener.DynamicLoggingListener(
            engine, log=LOG, failure_level=logging.DEBUG):
        try:
            engine.run()
        except tf_exceptions.WrappedFailure as wrapped:
            # Several tasks failed (a resumed flow): raise ours first.
            failures = sorted(wrapped, key=lambda f: not f.check(
                exception.XenBalloonException))
            _reraise(failures[0])
    return engine.storage.fetch_all()


def _reraise(failure):
    """Raise a task's failure; rebuild it if it came from the store.

    A failure loaded from a logbook (a flow resumed after a restart) has
    lost its exception object: raise the project's class of the same name
    with the same message.
    """
    if failure.exc_info:
        failure.reraise()
    name = next(iter(failure)).rsplit('.', 1)[-1]  # its type's name
    cls = getattr(exception, name, None)
    if not (isinstance(cls, type) and
            issubclass(cls, exception.XenBalloonException)):
        cls = exception.XenBalloonException
    raise cls(message=failure.exception_str)
