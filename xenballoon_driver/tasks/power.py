"""Tasks that stop a guest (power-off, suspend) and mark it in the ledger.

The stopped guest's memory stays promised to it in the ledger (STOPPED),
free in Xen and never lent to dom0: see ledger/power.py.
"""

import contextlib
import os

from oslo_log import log as logging

from xenballoon_driver import exception
from xenballoon_driver.tasks import common
from xenballoon_driver.tasks import host

LOG = logging.getLogger(__name__)


class MarkStopped(common.QuietTask, host.HostTask):
    """The ledger entry goes STOPPED, held by this flow until it is done.

    Before the domain goes: while it shuts down it holds what it is
    promised, so nothing is counted twice, and once gone its memory is
    already promised to it. Reverted (the stop failed, the domain is
    still there): DOMAIN again.
    """

    def execute(self, name, request_id):
        res_id, was = self.ledger.stop(name, request_id)
        return {'id': res_id, 'was': was}

    def revert(self, name, request_id, result, **kwargs):
        if not isinstance(result, dict):
            return  # stop() refused: nothing was written
        if self.existing(name) is not None:
            common.safely('marking %s running again' % name,
                          self.ledger.unstop, result['id'], request_id)
        else:
            common.safely('closing the power-off of %s' % name,
                          self.ledger.stop_done, result['id'], request_id)


class StopDomain(host.HostTask):
    """Shut the guest down cleanly, else destroy it; or save its memory.

    Power-off (no ``save_path``): the guest is asked to shut down, and
    asked again every ``retry_interval`` s (0: once), the domain polled
    on the backend's clock; when ``timeout`` s have passed it is
    destroyed (timeout 0: at once). Suspend: its memory is written to
    ``save_path`` (through ``.part``, renamed when whole) and the domain
    is gone. Run again by recovery: the one who waited is gone, so a
    power-off destroys at once and a suspend saves again if its domain
    is still there. Returns {'clean': shut down by itself, 'saved': the
    path or None}.
    """

    def __init__(self, backend, ledger, options, recovering=False, **kw):
        super().__init__(backend, ledger, **kw)
        self.options = options
        self.recovering = recovering

    def execute(self, name, stopping, request_id, timeout, retry_interval,
                save_path):
        if save_path:
            saved = self._save(name, save_path)
            clean = saved is not None
        else:
            saved = None
            clean = self._shutdown(name, 0 if self.recovering else timeout,
                                   retry_interval)
        self.ledger.stop_done(stopping['id'], request_id, saved)
        LOG.info('Guest %s stopped (%s); its memory stays reserved', name,
                 'saved to %s' % saved if saved else
                 'shut down cleanly' if clean else 'destroyed')
        return {'clean': clean, 'saved': saved}

    def _shutdown(self, name, timeout, retry_interval):
        clock = self.backend.clock
        # Counted from the first ask: on a slow host the look before it
        # (xl list: 1.35 s under QEMU) may take longer than the timeout,
        # and a guest never asked must not be destroyed for not obeying.
        deadline = None
        asked = None
        while self.existing(name) is not None:
            now = clock.now()
            if timeout <= 0 or (deadline is not None and now >= deadline):
                self._destroy(name, timeout)
                return False
            if asked is None or (retry_interval and
                                 now >= asked + retry_interval):
                if not self._ask(name) and asked is None:
                    self._destroy(name, 0)
                    return False
                if deadline is None:
                    deadline = clock.now() + timeout
                asked = now  # a second ask that fails: it was asked once
            wake = deadline
            if retry_interval:
                wake = min(wake, asked + retry_interval)
            clock.sleep(max(0.0, min(self.options.poll_interval,
                                     wake - now)))
        return True

    def _ask(self, name):
        """Ask for a clean shutdown; False if it cannot be asked at all.

        As Nova's drivers do, a guest that cannot be asked (no PV control
        interface, a backend without the call) is powered off hard.
        """
        try:
            self.backend.shutdown_domain(name)
        except exception.DomainNotFound:
            pass
        except (exception.ToolstackError, exception.Unsupported) as err:
            LOG.warning('Asking guest %s to shut down failed: %s', name,
                        err)
            return False
        return True

    def _destroy(self, name, timeout):
        if timeout:
            LOG.warning('Guest %s did not shut down within %g s: destroying '
                        'it', name, timeout)
        else:
            LOG.info('Destroying guest %s (no clean shutdown asked)', name)
        with contextlib.suppress(exception.DomainNotFound):
            self.backend.destroy_domain(name)

    def _save(self, name, path):
        part = path + '.part'
        if self.existing(name) is not None:
            for stale in (path, part):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(stale)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            self.backend.save_domain(name, part)
        # The toolstack destroys the domain only once its memory is all
        # written: a .part left with no domain is whole.
        if os.path.exists(part):
            os.replace(part, path)
        if os.path.exists(path):
            return path
        LOG.warning('Guest %s is gone and nothing was saved: it is stopped '
                    'and its next start boots it afresh', name)
        return None

    def revert(self, save_path, **kwargs):
        if save_path:
            with contextlib.suppress(OSError):
                os.unlink(save_path + '.part')
