"""Helpers shared by tasks."""

import logging

from taskflow import task

LOG = logging.getLogger(__name__)


class QuietTask(task.Task):
    """A task that reports no progress.

    The engine stores every progress update (0.0 and 1.0 around each task
    at least) in the flow's logbook: a database write each. Only the
    balloon wait has progress worth storing.
    """

    TASK_EVENTS = ()


def apply_ledger_target(backend, ledger):
    """Set dom0's target to what the ledger derives, if it differs.

    Called after every ledger change, so dom0's target is never a number
    remembered by one flow (which would take back memory promised to
    another). Returns the target applied, or None when nothing is known.
    """
    return ledger.apply_target(backend)


def safely(what, fn, *args, **kwargs):
    """Run a step of a revert; log its error instead of masking the first.

    We are already reverting because of an earlier failure: raising here
    would hide it, and a resumed flow may run the revert again anyway.
    """
    try:
        return fn(*args, **kwargs)
    except Exception:
        LOG.exception('While reverting, %s failed; carrying on', what)
        return None
