"""libvirt-python and the connection to libvirtd, for the libvirt backend.

libvirt-python is imported on first use (``import_libvirt``), so the rest
of the project never needs it. ``error_kind`` sorts libvirt's errors by
what they mean for us; ``LibvirtConnection`` (which LibvirtHypervisor
inherits) holds the connection, reopens it when it died, finds dom0 and
turns any other libvirtError into a ToolstackError.
"""

import re
import threading

from oslo_log import log as logging

from xenballoon_driver import exception

LOG = logging.getLogger(__name__)

INSTALL_HINT = (
    'libvirt-python is not installed (%s). Install the extra with: pip '
    'install "xenballoon-driver[libvirt]" (it builds against libvirt\'s '
    'headers: apt-get install libvirt-dev pkg-config)')

# What libvirt says when a define or create finds the name taken
# (src/conf/virdomainobjlist.c).
_EXISTS_RE = re.compile(
    r"domain '[^']*' (already exists|is already defined|is already active)",
    re.IGNORECASE)
# What libvirt says when memory runs short: the libxl driver's own
# autoballoon giving up, or a plain allocation failure.
_NO_MEMORY_RE = re.compile(
    r'balloon domain0 memory|out of memory|cannot allocate memory|'
    r'not enough (free )?memory|insufficient (free )?memory',
    re.IGNORECASE)
# Error codes that mean libvirt itself could not be reached or refused us,
# rather than a refusal of the domain.
_CONNECTION_CODES = ('VIR_ERR_NO_CONNECT', 'VIR_ERR_INVALID_CONN',
                     'VIR_ERR_RPC', 'VIR_ERR_SYSTEM_ERROR',
                     'VIR_ERR_AUTH_FAILED', 'VIR_ERR_AUTH_CANCELLED',
                     'VIR_ERR_AUTH_UNAVAILABLE', 'VIR_ERR_OPERATION_DENIED',
                     'VIR_ERR_ACCESS_DENIED', 'VIR_ERR_OPERATION_TIMEOUT',
                     'VIR_ERR_NO_SUPPORT')
_STATE_NAMES = (
    ('VIR_DOMAIN_NOSTATE', 'nostate'), ('VIR_DOMAIN_RUNNING', 'running'),
    ('VIR_DOMAIN_BLOCKED', 'blocked'), ('VIR_DOMAIN_PAUSED', 'paused'),
    ('VIR_DOMAIN_SHUTDOWN', 'shutdown'), ('VIR_DOMAIN_SHUTOFF', 'shutoff'),
    ('VIR_DOMAIN_CRASHED', 'crashed'),
    ('VIR_DOMAIN_PMSUSPENDED', 'pmsuspended'))

_libvirt = None
_import_lock = threading.Lock()


def _log_libvirt_error(ctx, error):
    # libvirt prints every error on stderr unless a handler is registered;
    # the error also reaches us as a libvirtError, so only log it here.
    LOG.debug('libvirt reported: %s', error[2] if error else error)


def import_libvirt():
    """The libvirt module; ToolstackError with an install hint if absent."""
    global _libvirt
    with _import_lock:
        if _libvirt is None:
            try:
                import libvirt
            except ImportError as err:
                raise exception.ToolstackError(call='import libvirt',
                                               reason=INSTALL_HINT % err)
            libvirt.registerErrorHandler(_log_libvirt_error, None)
            _libvirt = libvirt
        return _libvirt


def error_text(err):
    return err.get_error_message() or str(err) or 'no message'


def error_kind(code, message):
    """Sort a libvirt error by what it means for us.

    Returns 'not_found', 'exists', 'out_of_memory', 'connection' or 'other'.
    """
    lv = import_libvirt()
    if code == lv.VIR_ERR_NO_DOMAIN:
        return 'not_found'
    if code == lv.VIR_ERR_DOM_EXIST or _EXISTS_RE.search(message or ''):
        return 'exists'
    if code == lv.VIR_ERR_NO_MEMORY or _NO_MEMORY_RE.search(message or ''):
        return 'out_of_memory'
    if code in [getattr(lv, name) for name in _CONNECTION_CODES
                if hasattr(lv, name)]:
        return 'connection'
    return 'other'


def state_name(state):
    lv = import_libvirt()
    for const, name in _STATE_NAMES:
        if state == getattr(lv, const):
            return name
    return 'unknown (%s)' % (state,)


class LibvirtConnection:
    """The connection to [libvirt] uri, opened on first use; dom0 in it."""

    def __init__(self, options):
        self.libvirt = import_libvirt()
        self.options = options
        self.uri = options.uri
        self._lock = threading.RLock()
        self._conn = None
        self._dom0 = None

    @property
    def connection(self):
        """The virConnect, opened on first use and again if it died."""
        with self._lock:
            conn = self._conn
            if conn is not None:
                try:
                    alive = conn.isAlive()
                except self.libvirt.libvirtError:
                    alive = 0
                if alive == 1:
                    return conn
                LOG.warning('The libvirt connection to %s is closed; '
                            'reconnecting', self.uri)
                self._conn = self._dom0 = None
            try:
                self._conn = self.libvirt.open(self.uri)
            except self.libvirt.libvirtError as err:
                raise exception.ToolstackError(
                    call='virConnectOpen(%s)' % self.uri,
                    reason=error_text(err), code=err.get_error_code())
            return self._conn

    def close(self):
        """Close the connection (a later call opens a new one)."""
        with self._lock:
            conn, self._conn, self._dom0 = self._conn, None, None
        if conn is not None:
            try:
                conn.close()
            except self.libvirt.libvirtError as err:
                LOG.debug('Closing the libvirt connection: %s', err)

    def _toolstack_error(self, call, err):
        return exception.ToolstackError(call=call, reason=error_text(err),
                                        code=err.get_error_code())

    def _call(self, call, fn, *args, name=None):
        """fn(*args); any libvirtError becomes a ToolstackError.

        With ``name``: libvirt's "no domain" becomes DomainNotFound.
        """
        try:
            return fn(*args)
        except self.libvirt.libvirtError as err:
            if (name is not None and err.get_error_code() ==
                    self.libvirt.VIR_ERR_NO_DOMAIN):
                raise exception.DomainNotFound(
                    'No domain named %s (libvirt: %s)' % (
                        name, error_text(err)),
                    name=name, reason=error_text(err))
            raise self._toolstack_error(call, err)

    def _lookup(self, name):
        """virDomainLookupByName; DomainNotFound if libvirt knows none."""
        return self._call('virDomainLookupByName(%s)' % name,
                          self.connection.lookupByName, name, name=name)

    def _dom0_domain(self):
        conn = self.connection
        with self._lock:
            if self._dom0 is not None and self._conn is conn:
                return self._dom0
        try:
            dom0 = conn.lookupByID(0)
        except self.libvirt.libvirtError as err:
            if err.get_error_code() != self.libvirt.VIR_ERR_NO_DOMAIN:
                raise self._toolstack_error('virDomainLookupByID(0)', err)
            name = self.options.dom0_name
            try:
                dom0 = conn.lookupByName(name)
            except self.libvirt.libvirtError as err:
                raise exception.ToolstackError(
                    call='virDomainLookupByName(%s)' % name,
                    reason='%s has no domain with ID 0 and none named %r '
                           '([libvirt] dom0_name): %s' % (
                               self.uri, name, error_text(err)),
                    code=err.get_error_code())
        if self._call('virDomainIsActive(dom0)', dom0.isActive) != 1:
            raise exception.ToolstackError(
                call='virDomainIsActive(%s)' % dom0.name(),
                reason='dom0 %s is not running' % dom0.name())
        with self._lock:
            if self._conn is conn:
                self._dom0 = dom0
        return dom0
