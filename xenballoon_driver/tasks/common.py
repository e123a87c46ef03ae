"""Helpers shared by tasks."""

from oslo_log import log as logging
from taskflow import task

from xenballoon_driver import ledger as ledger_mod

LOG = logging.getLogger(__name__)


class QuietTask(task.Task):
    """A task that reports no progress.

    The engine stores every progress update (0.0 and 1.0 around each task
    at least) in the flow's logbook: a database write each. Only the
    balloon wait has progress worth storing.
    """

    TASK_EVENTS = ()


def safely(what, fn, *args, on_error=None, **kwargs):
    """Run a step of a revert; log its error instead of masking the first.

    We are already reverting because of an earlier failure: raising here
    would hide it, and a resumed flow may run the revert again anyway.
    The error is one warning line (its traceback only at debug level);
    ``on_error(err)``, if given, records it (in the ledger) for recovery
    to retry, and returns what the line should add.
    """
    try:
        return fn(*args, **kwargs)
    except Exception as err:
        then = 'carrying on'
        if on_error is not None:
            try:
                then = on_error(err)
            except Exception as second:
                then = 'and recording it failed: %s' % (
                    ledger_mod.one_line(second))
        LOG.warning('While reverting, %s failed: %s; %s', what,
                    ledger_mod.one_line(err), then)
        LOG.debug('The failed revert step', exc_info=True)
        return None
