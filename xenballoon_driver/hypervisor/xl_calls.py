"""How the xl backend runs xl: as root, or through the privsep daemon.

Every call runs one of the checked operations of xl_ops.py (an argument
list it builds itself, no shell, a timeout). Run as root, the backend
calls it directly; otherwise xl runs in the privsep daemon (privsep.py),
which runs its own [xl] command (read from the service's config files
when it starts) and takes only typed, checked arguments.

Read-only looks (xl info, xl list, sysfs reads) that fail are tried
again, a bounded number of times within a bounded time ([xl]
look_retries, look_retry_interval, look_retry_window), waiting on the
backend's clock, so a balloon wait counts that time as it counts any
other. mem-set, create and destroy are not: they may have acted.
"""

import os

from oslo_log import log as logging

from xenballoon_driver import exception
from xenballoon_driver.hypervisor import privsep
from xenballoon_driver.hypervisor import xl_exec
from xenballoon_driver.hypervisor import xl_messages
from xenballoon_driver.hypervisor import xl_ops
from xenballoon_driver.hypervisor import xl_parse
from xenballoon_driver import validation

LOG = logging.getLogger(__name__)


class XlCalls:
    """Running xl for XlHypervisor, which provides ``clock``.

    ``clock`` is read at each call, not kept: the waits follow the
    backend's clock, whatever a test puts there.
    """

    def __init__(self, options):
        self.options = options
        self.command = options.command
        self._timeouts = {'create_domain': options.create_timeout,
                          'restore_domain': options.create_timeout,
                          'destroy_domain': options.destroy_timeout,
                          'shutdown_domain': options.shutdown_timeout,
                          'save_domain': options.save_timeout}
        self.privileged = os.geteuid() != 0
        # A domain's UUID never changes: (domid, name) -> UUID, read with
        # ``xl list -l`` only when ``xl list`` shows a domain not in here.
        self._uuids = {}

    def _run(self, call, op, *args):
        """Run xl_ops.<op>(*args) on the side that runs xl; a Result.

        ToolstackError if xl did not run. ``call`` names the command in
        errors (``xl list -l 0``).
        """
        status, command = self._dispatch(call, op, *args)
        timeout = self._timeouts.get(op, self.options.command_timeout)
        result = xl_exec.check(status, call, command, timeout)
        if result.code != 0:
            LOG.debug('%s exited %s; stderr: %r', call, result.code,
                      result.stderr)
        return result

    def _dispatch(self, call, op, *args):
        """xl_ops.<op>(*args)'s plain answer, and the command it ran."""
        if self.privileged:
            try:
                status = getattr(privsep, op)(*args)
            except Exception as err:
                # The daemon could not start, or died: privsep's own error.
                raise exception.ToolstackError(
                    call=call, reason='privsep daemon failed: %s: %s' % (
                        type(err).__name__, err), permanent=True)
            command = 'xl (privsep daemon\'s [xl] command)'
        else:
            # Already root: the same checked function the daemon runs.
            status = getattr(xl_ops, op)(self.options, *args)
            command = self.command
        return status, command

    def _checked(self, call, op, *args):
        """Run xl; ToolstackError with xl's message unless it exits 0."""
        result = self._run(call, op, *args)
        if result.code != 0:
            raise exception.ToolstackError(
                call=call, reason=self._exit_reason(result),
                code=result.code, stderr=result.stderr)
        return result

    def _look(self, call, op, parse):
        """A read-only xl look, parsed; retried (see _retried)."""
        return self._retried(call, lambda: self._parsed(
            call, parse, self._checked(call, op).stdout))

    def _retried(self, call, look):
        """``look()``, tried again on a transient ToolstackError.

        Only for what changes nothing (xl info, xl list, sysfs reads):
        at most [xl] look_retries more tries, none starting later than
        [xl] look_retry_window after the first, each after
        look_retry_interval on this backend's clock, so a balloon wait
        counts the time in its stall clock. A missing binary, a refusal
        or a dead privsep daemon is not tried again.
        """
        started = self.clock.now()
        retries = self.options.look_retries
        for attempt in range(1, retries + 2):
            try:
                return look()
            except exception.ToolstackError as err:
                pause = self.options.look_retry_interval
                late = (self.clock.now() - started + pause >
                        self.options.look_retry_window)
                if (getattr(err, 'permanent', False) or attempt > retries or
                        late):
                    raise
                LOG.warning('%s (try %d of %d); trying again in %.1f s',
                            err.message, attempt, retries + 1, pause)
                self.clock.sleep(pause)

    def _guest_uuids(self, rows):
        """{domid: UUID} for ``xl list`` rows (c_info.uuid of xl list -l).

        One ``xl list -l`` when a row is new to this process. If it fails
        the domains are reported without UUIDs, not failed: the memory
        figures do not need them, and the next look tries again.
        """
        if any((row.domid, row.name) not in self._uuids for row in rows):
            try:
                entries = self._look('xl list -l', 'list_long',
                                     xl_parse.parse_list_long)
            except exception.ToolstackError as err:
                LOG.warning('Domains\' UUIDs not read: %s', err.message)
                return {}
            known = {(row.domid, row.name) for row in rows}
            self._uuids = {key: uuid for key, uuid in
                           guest_uuids(entries).items()
                           if key in known}
        return {domid: self._uuids.get((domid, name))
                for domid, name in ((row.domid, row.name) for row in rows)}

    @staticmethod
    def _exit_reason(result):
        text = xl_messages.message(result.stderr) or xl_messages.message(
            result.stdout) or 'no message'
        return 'exit status %s: %s' % (result.code, text)

    @staticmethod
    def _parsed(call, parse, text):
        try:
            return parse(text)
        except xl_parse.ParseError as err:
            raise exception.ToolstackError(
                call=call, reason='cannot read its output: %s' % err)


def guest_uuids(entries):
    """Entries of ``xl list -l`` -> {(domid, name): UUID} of the guests.

    The UUID is c_info.uuid, lower case; a guest whose c_info has no name
    or no canonical UUID is left out (never guessed).
    """
    uuids = {}
    for entry in entries:
        c_info = entry['config'].get('c_info')
        if entry['domid'] == 0 or not isinstance(c_info, dict):
            continue
        name, uuid = c_info.get('name'), c_info.get('uuid')
        if not isinstance(name, str) or not isinstance(uuid, str):
            continue
        try:
            uuids[(entry['domid'], name)] = validation.instance_uuid(uuid)
        except exception.InvalidInput:
            continue
    return uuids
