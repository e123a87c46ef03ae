"""One helper runs every flow, with the same listeners attached."""

import contextlib
import logging
import os
import uuid

import fasteners

from taskflow import engines
from taskflow import exceptions as tf_exceptions
from taskflow.listeners import logging as logging_listener
from taskflow.persistence import models
from taskflow import task as tf_task

from xenballoon_driver import exception

LOG = logging.getLogger(__name__)
PROGRESS = tf_task.EVENT_UPDATE_PROGRESS


def flow_lock_path(lock_dir, flow_id):
    return os.path.join(lock_dir, 'flow-%s.lock' % flow_id)


@contextlib.contextmanager
def owning(lock_dir, flow_id):
    """Hold the flow's lock while it runs: recovery skips held flows."""
    if lock_dir is None:
        yield
        return
    os.makedirs(lock_dir, exist_ok=True)
    path = flow_lock_path(lock_dir, flow_id)
    lock = fasteners.InterProcessLock(path)
    if not lock.acquire(blocking=False):
        raise exception.FlowBusy(flow_id=flow_id)
    try:
        yield
    finally:
        lock.release()
        with contextlib.suppress(OSError):
            os.unlink(path)


def new_flow_detail(backend, flow_name, request):
    """A logbook holding one flow detail for this request, saved."""
    book = models.LogBook(request)
    detail = models.FlowDetail(flow_name, uuid=uuid.uuid4().hex)
    book.add(detail)
    with contextlib.closing(backend.get_connection()) as conn:
        conn.save_logbook(book)
    return book, detail


def run(flow, store, progress=None, persistence=None, request=None,
        lock_dir=None):
    """Run ``flow`` to the end and return everything its tasks provided.

    With a ``persistence`` backend the flow is stored as it runs, in a
    logbook named ``request``, and ``store['request_id']`` is its flow
    detail's uuid. On failure the flow has already been reverted; the first
    task error is raised as it was (not wrapped), so callers see the
    project's exception. ``progress(task_name, details)`` is told of every
    progress update.
    """
    kwargs = {}
    store = dict(store)
    if persistence is not None:
        book, detail = new_flow_detail(persistence, flow.name,
                                       request or flow.name)
        kwargs = {'backend': persistence, 'book': book,
                  'flow_detail': detail}
        store['request_id'] = detail.uuid
    else:
        store.setdefault('request_id', uuid.uuid4().hex)
    with owning(lock_dir, store['request_id']):
        engine = engines.load(flow, store=store, engine='serial', **kwargs)
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
