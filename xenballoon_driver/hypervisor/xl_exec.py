"""Running xl: an argument list, no shell, a timeout, a plain answer.

``run`` is what actually executes xl (in this process when the service is
root, or inside the privsep daemon otherwise: see hypervisor/privsep.py).
It never raises for xl's own failures; it returns a plain tuple that
survives privsep's serialisation:

    (kind, code, stdout, stderr)

kind is EXITED (code = exit status; negative for a signal), TIMED_OUT
(xl was killed), NO_BINARY / OS_ERROR (code = errno, stderr = strerror),
or REFUSED (the privileged side refused the arguments and ran nothing:
see xl_ops). ``check`` turns such a tuple into a Result or a
ToolstackError; the error's ``permanent`` says whether trying again could
help (a missing binary or a refusal: no).
"""

import collections
import errno
import subprocess

from oslo_concurrency import processutils
from oslo_log import log as logging

from xenballoon_driver import exception

LOG = logging.getLogger(__name__)

EXITED = 'exited'
TIMED_OUT = 'timed-out'
NO_BINARY = 'no-binary'
OS_ERROR = 'os-error'
REFUSED = 'refused'

Result = collections.namedtuple('Result', 'code stdout stderr')


def run(command, args, timeout):
    """Run ``command args...`` with a timeout; return (kind, code, out, err).

    On a timeout the process is killed and reaped (processutils only
    raises), so no xl is left running behind our back.
    """
    argv = [command] + [str(a) for a in args]
    started = []
    try:
        out, err = processutils.execute(
            *argv, timeout=timeout, on_execute=started.append,
            check_exit_code=[0])
        return (EXITED, 0, out, err)
    except processutils.ProcessExecutionError as err:
        return (EXITED, err.exit_code, err.stdout or '', err.stderr or '')
    except subprocess.TimeoutExpired:
        out = err = ''
        for proc in started:
            proc.kill()
            out, err = proc.communicate()
        return (TIMED_OUT, None, _text(out), _text(err))
    except OSError as err:
        kind = NO_BINARY if err.errno in (errno.ENOENT, errno.EACCES,
                                          errno.ENOTDIR) else OS_ERROR
        return (kind, err.errno, '', err.strerror or str(err))


def refused(reason):
    """The answer of a privileged operation that ran nothing."""
    return (REFUSED, None, '', 'refused by the privileged side, nothing '
                               'run: %s' % reason)


def _text(data):
    if isinstance(data, bytes):
        return data.decode('utf-8', 'replace')
    return data or ''


def check(status, call, command, timeout):
    """A tuple from ``run`` -> Result; ToolstackError unless xl ran.

    A non-zero exit is returned as a Result: what it means depends on the
    subcommand. ``call`` names the command in errors (``xl list -l 0``).
    """
    if not isinstance(status, (list, tuple)) or len(status) != 4:
        raise exception.ToolstackError(
            call=call, reason='unexpected answer from the runner: %r' % (
                status,))
    kind, code, out, err = status
    if kind == EXITED:
        return Result(code, out, err)
    if kind == TIMED_OUT:
        raise exception.ToolstackError(
            call=call, reason='no answer within %.1f s; xl was killed '
                              '(see [xl] command_timeout, create_timeout and '
                              'destroy_timeout)' % timeout, timed_out=True)
    if kind == NO_BINARY:
        raise exception.ToolstackError(
            call=call, reason='cannot run %s: %s (set [xl] command to the xl '
                              'binary)' % (command, err), permanent=True)
    if kind == REFUSED:
        raise exception.ToolstackError(call=call, reason=err, permanent=True,
                                       refused=True)
    raise exception.ToolstackError(
        call=call, reason='cannot run %s: %s' % (command, err))
