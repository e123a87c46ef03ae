"""One helper runs every flow, with the same listeners attached."""

import logging

from taskflow import engines
from taskflow import exceptions as tf_exceptions
from taskflow.listeners import logging as logging_listener

LOG = logging.getLogger(__name__)


def run(flow, store, progress=None):
    """Run ``flow`` to the end and return everything its tasks provided.

    On failure the flow has already been reverted; the first task error is
    raised as it was (not wrapped), so callers see the project's exception.
    ``progress(task_name, details)`` is told of every progress update.
    """
    engine = engines.load(flow, store=store, engine='serial')
    if progress is not None:
        for atom in flow.iter_nodes():
            task = atom[0]
            if hasattr(task, 'notifier'):
                task.notifier.register(
                    task.notifier.ANY,
                    lambda event, details, name=task.name: progress(
                        name, dict(details)))
    # Failures reach the caller as exceptions; their tracebacks are for -v.
    with logging_listener.DynamicLoggingListener(
            engine, log=LOG, failure_level=logging.DEBUG):
        try:
            engine.run()
        except tf_exceptions.WrappedFailure as wrapped:
            wrapped[0].reraise()
    return engine.storage.fetch_all()
