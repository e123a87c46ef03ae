"""The guest lifecycle with xl, for XlHypervisor: shutdown, pause,
unpause, save, the console log and the host's uptime.

What real xl 4.17 does, from its source (tools/xl/xl_vmcontrol.c,
xl_saverestore.c, libs/light/libxl_domain.c) and the captures:

- ``xl shutdown`` writes the request into xenstore, then waits up to 60 s
  for the guest to take it; a guest without PV control (pvgrub at its
  prompt) never does, and xl fails after 60 s ("guest didn't
  acknowledge control request"). The request stays in xenstore either
  way, so after [xl] shutdown_timeout xl is killed and the call returns:
  the caller's patience decides, not xl's.
- ``xl pause`` / ``xl unpause`` exit 0 whatever libxl answered, so the
  state is read back with ``xl list NAME``.
- ``xl save`` destroys the domain once its memory is written, without
  checking that destroy; on failure it resumes the domain and exits 1.
"""

import errno
from oslo_log import log as logging

from xenballoon_driver import exception
from xenballoon_driver.hypervisor import host_uptime
from xenballoon_driver.hypervisor import xl_build
from xenballoon_driver.hypervisor import xl_config
from xenballoon_driver.hypervisor import xl_exec
from xenballoon_driver.hypervisor import xl_messages

LOG = logging.getLogger(__name__)


class XlPower:
    """The lifecycle calls of the contract (see the module docstring)."""

    def shutdown_domain(self, name):
        name = xl_config.guest_name(name)
        call = 'xl shutdown -F %s' % name
        try:
            result = self._run(call, 'shutdown_domain', name)
        except exception.ToolstackError as err:
            if not getattr(err, 'timed_out', False):
                raise
            # The request is in xenstore; the guest has not taken it yet.
            LOG.info('%s: the guest has not acknowledged the request within '
                     '%.0f s; it stays asked', call,
                     self.options.shutdown_timeout)
            return
        if result.code == 0:
            return
        self._raise_unless_found(call, name, result)
        if xl_messages.says_not_acknowledged(result.stderr):
            LOG.info('%s: %s; the request stays asked', call,
                     xl_messages.message(result.stderr))
            return
        raise exception.ToolstackError(
            call=call, reason=self._exit_reason(result), code=result.code,
            stderr=result.stderr)

    def pause_domain(self, name):
        self._pause_op(name, 'pause', True)

    def unpause_domain(self, name):
        self._pause_op(name, 'unpause', False)

    def _pause_op(self, name, verb, paused):
        name = xl_config.guest_name(name)
        call = 'xl %s %s' % (verb, name)
        result = self._run(call, '%s_domain' % verb, name)
        if result.code != 0:
            self._raise_unless_found(call, name, result)
            raise exception.ToolstackError(
                call=call, reason=self._exit_reason(result),
                code=result.code, stderr=result.stderr)
        # xl exits 0 even when libxl refused: look.
        row = self._domain_listed(name)
        if row is None and not paused:
            # It ran, and went: a shutdown asked while paused was taken.
            LOG.info('%s: the domain has gone since', call)
            return
        if row is None:
            raise exception.DomainNotFound(
                name=name, reason='gone after %s' % call)
        if (row.state == 'paused') != paused:
            raise exception.ToolstackError(
                call=call, reason='xl exited 0 but xl list %s shows it %s '
                                  '(flags %s)%s' % (
                                      name, row.state, row.flags,
                                      self._said(result)), code=0)

    def save_domain(self, name, path):
        """``xl save``: memory to ``path``, then the domain is gone.

        On failure xl resumes the domain; what it wrote is removed.
        """
        name = xl_config.guest_name(name)
        call = 'xl save %s %s' % (name, path)
        result = self._run(call, 'save_domain', name, path)
        if result.code != 0:
            # Nothing was there before (xl_ops refuses a path that is).
            xl_build.remove_partial(path)
            self._raise_unless_found(call, name, result)
            raise exception.ToolstackError(
                call=call, reason=self._exit_reason(result),
                code=result.code, stderr=result.stderr)
        if self._domain_listed(name) is not None:
            # Saved, but xl's own destroy (unchecked) left it: finish it.
            LOG.warning('%s: saved, but the domain is still there; '
                        'destroying it', call)
            self.destroy_domain(name)

    def console_output(self, name):
        name = xl_config.guest_name(name)
        if self._domain_listed(name) is None:
            raise exception.DomainNotFound(name=name)
        call = 'read the console log of %s' % name
        status, command = self._dispatch(call, 'console_log', name)
        if (isinstance(status, (list, tuple)) and len(status) == 4 and
                status[0] == xl_exec.OS_ERROR and status[1] == errno.ENOENT):
            raise exception.ConsoleUnavailable(
                name=name, reason='xenconsoled keeps no log of it (%s); '
                                  'start xenconsoled with --log=guest, or '
                                  'set [xl] console_log_dir' % status[3])
        return xl_exec.check(status, call, command, 0).stdout

    def host_uptime(self):
        return host_uptime.read()

    # -- helpers ---------------------------------------------------------

    def _raise_unless_found(self, call, name, result):
        if xl_messages.says_not_found(result.stderr):
            raise exception.DomainNotFound(
                name=name, reason=xl_messages.message(result.stderr))

    @staticmethod
    def _said(result):
        text = xl_messages.message(result.stderr)
        return '; xl said: %s' % text if text else ''
