"""The project's exceptions, in nova's style.

Each class has a message template; the values that fill it are kept as
attributes, so an operator reads the numbers and a caller can use them
(``err.missing_mb``). ``exit_code`` is what the CLI exits with.
"""

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_NO_MEMORY = 3
EXIT_STALLED = 4
EXIT_BUILD_FAILED = 5
EXIT_NOT_FOUND = 6
EXIT_TOOLSTACK = 7
EXIT_BUSY = 8
# The state directory, the flow database or a lock file cannot be used
# (corrupt, unwritable, full, a directory where a file belongs).
EXIT_STORAGE = 9
EXIT_INTERRUPTED = 130


def signal_exit_code(signum):
    """What a shell reports for a process that a signal stopped."""
    return 128 + int(signum)


class XenBalloonException(Exception):
    msg_fmt = 'An unknown error occurred.'
    exit_code = EXIT_ERROR

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        for key, value in kwargs.items():
            setattr(self, key, value)
        if message is None:
            message = self.msg_fmt % kwargs
        self.message = message
        super().__init__(message)


class InvalidInput(XenBalloonException):
    msg_fmt = 'Invalid %(what)s: %(reason)s'
    exit_code = EXIT_BAD_INPUT


class InvalidConfig(InvalidInput):
    msg_fmt = 'Invalid configuration %(option)s: %(reason)s'


class InvalidScenario(InvalidInput):
    msg_fmt = 'Invalid scenario %(path)s: %(reason)s'


class BackendNotFound(InvalidInput):
    msg_fmt = ('Unknown hypervisor backend %(name)r; installed: '
               '%(available)s')


class StrategyNotFound(InvalidInput):
    msg_fmt = 'Unknown strategy %(name)r; known: %(available)s'


class NotEnoughMemory(XenBalloonException):
    msg_fmt = ('Cannot place %(name)s: it needs %(need_mb)d MiB but only '
               '%(available_mb)d MiB can be had (free %(free_mb)d MiB, dom0 '
               'can give %(balloonable_mb)d MiB down to its floor of '
               '%(dom0_min_mb)d MiB, %(reserved_mb)d MiB promised to other '
               'spawns)')
    exit_code = EXIT_NO_MEMORY


class BalloonStalled(XenBalloonException):
    msg_fmt = ('Balloon stalled: dom0 is at %(current_mb)d MiB, target '
               '%(target_mb)d MiB, %(missing_mb)d MiB still missing after '
               '%(stalled_s).1f s with less than %(min_rate).1f MiB/s of '
               'progress')
    exit_code = EXIT_STALLED


class BalloonTimeout(BalloonStalled):
    msg_fmt = ('Balloon wait exceeded max_wait of %(max_wait).1f s: dom0 '
               'is at %(current_mb)d MiB, target %(target_mb)d MiB, '
               '%(missing_mb)d MiB still missing')


class NoValidHost(XenBalloonException):
    """The scheduler found no host for a request."""

    msg_fmt = ('No valid host for %(name)s: it needs %(need_mb)d MiB; '
               '%(reason)s')
    exit_code = EXIT_NO_MEMORY


class OutOfMemory(XenBalloonException):
    """The toolstack refused for lack of memory (libxl's ERROR_NOMEM)."""

    msg_fmt = ('Out of memory for %(name)s: needs %(need_mb)d MiB, '
               '%(free_mb)d MiB free')
    exit_code = EXIT_NO_MEMORY


class BuildFailed(XenBalloonException):
    """The toolstack refused or failed the build; nothing of it is left."""

    msg_fmt = 'Building domain %(name)s failed: %(reason)s'
    exit_code = EXIT_BUILD_FAILED


class DomainNotFound(XenBalloonException):
    """No such domain on the host (a destroy, a look by name)."""

    msg_fmt = 'No domain named %(name)s'
    exit_code = EXIT_NOT_FOUND


class DomainExists(XenBalloonException):
    """The toolstack found the name taken: that domain is left alone."""

    msg_fmt = 'A domain named %(name)s already exists'
    exit_code = EXIT_BAD_INPUT


class DomainBusy(XenBalloonException):
    """A destroy came while a spawn of the same name holds it."""

    msg_fmt = ('Domain %(name)s is still being spawned; destroy it once its '
               'spawn has finished or failed')
    exit_code = EXIT_BUSY


class GuestBusy(DomainBusy):
    """A stop or start came while another flow holds the guest."""

    msg_fmt = ('Guest %(name)s is being %(doing)s; try again once that has '
               'finished or failed')


class Unsupported(XenBalloonException):
    """The backend cannot do this at all (not a failure of the moment)."""

    msg_fmt = 'The %(backend)s backend does not support %(what)s'


class ConsoleUnavailable(XenBalloonException):
    msg_fmt = 'No console log for domain %(name)s: %(reason)s'


class ToolstackError(XenBalloonException):
    """Any other toolstack failure, with the tool's message.

    Backends may add ``permanent`` (trying again cannot help), ``refused``
    (the privileged side ran nothing), ``code`` and ``stderr``.
    """

    msg_fmt = 'Toolstack call %(call)s failed: %(reason)s'
    exit_code = EXIT_TOOLSTACK


class FlowBusy(XenBalloonException):
    """Another process holds the flow's lock (see flows/engine.py)."""

    msg_fmt = 'Flow %(flow_id)s is being run by another process'


class Unrebuildable(XenBalloonException):
    """A stored flow whose record cannot say what to run (registry.py)."""

    msg_fmt = 'Flow %(flow_id)s cannot be rebuilt from its record: %(reason)s'


class BuildInterrupted(BuildFailed):
    msg_fmt = ('The build of %(name)s was interrupted (the process running '
               'it stopped); its partial domain is destroyed')


class Interrupted(XenBalloonException):
    msg_fmt = ('The spawn of %(name)s was interrupted before its domain was '
               'built; it is undone')
    exit_code = EXIT_INTERRUPTED


class SpawnCancelled(Interrupted):
    """The caller's cancel event was set during the balloon wait."""

    msg_fmt = ('The spawn of %(name)s was cancelled before its domain was '
               'built; it is undone')


class StartInterrupted(Interrupted):
    """Recovery found a power-on whose domain had not run."""

    msg_fmt = ('The start of %(name)s was interrupted before its domain '
               'ran; the guest stays stopped, its memory reserved')


class StorageError(XenBalloonException):
    msg_fmt = 'Cannot use %(what)s: %(reason)s; %(hint)s'
    exit_code = EXIT_STORAGE


class JobboardUnavailable(XenBalloonException):
    msg_fmt = ('Cannot use the jobboard at %(where)s: %(reason)s; start '
               'its server (Redis or etcd, [jobboard] backend) there or '
               'fix [jobboard] url')
    exit_code = EXIT_STORAGE


class UsageError(InvalidInput):
    """A command line argparse or cliff refused."""

    msg_fmt = '%(prog)s: %(reason)s (see "%(prog)s --help")'


class UnexpectedError(XenBalloonException):
    msg_fmt = ('%(kind)s: %(reason)s (a defect: run again with --debug for '
               'the traceback and report it)')


class _SignalExit:
    """Exits as a shell reports a process that the signal stopped."""

    def __init__(self, message=None, **kwargs):
        super().__init__(message, **kwargs)
        self.exit_code = signal_exit_code(kwargs['signum'])


class SpawnSignalled(_SignalExit, Interrupted):
    msg_fmt = ('The spawn of %(name)s was interrupted by %(signal)s before '
               'its domain was built; it is undone')


class SpawnSignalledLate(SpawnSignalled):
    msg_fmt = ('%(signal)s came after the domain %(name)s was built: it is '
               'running (destroy it if it is not wanted)')


class DestroySignalled(_SignalExit, XenBalloonException):
    msg_fmt = ('%(signal)s came during the destroy of %(name)s, which was '
               'let finish first: %(outcome)s')


class JobWaitSignalled(_SignalExit, XenBalloonException):
    msg_fmt = ('%(signal)s: stopped waiting for the %(what)s of %(name)s; '
               'its job %(job)s goes on (see "xenballoon jobs")')
