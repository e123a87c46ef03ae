"""The "libvirt" backend: a Xen host through libvirt-python.

libvirt-python is an optional extra (``pip install
"xenballoon-driver[libvirt]"``, which builds against libvirt's headers:
``apt-get install libvirt-dev pkg-config``). It is imported when the
backend is loaded, so the rest of the project never needs it.

=====================  ==================================================
host_memory            ``virNodeGetInfo`` (total; libvirt-python already
                       gives MiB, floored) and ``virNodeGetFreeMemory``
                       (bytes, floored to MiB). Claims: reported as 0;
                       libvirt does not expose Xen's outstanding claims
                       (and its libxl driver never sets claim_mode).
host_info              ``virNodeGetInfo`` (CPUs, cores per socket, threads
                       per core, architecture) and ``virConnectGetVersion``
                       (Xen's version, major * 1000000 + minor * 1000 +
                       micro, as Nova counts it)
dom0_memory            current: ``virDomainGetInfo`` memory (KiB). On libxl
                       that is Xen's current_memkb, what dom0 really holds
                       while its balloon driver works; ``memoryStats``
                       (actual-balloon) reports the same number there, and
                       ``maxMemory`` is dom0's ceiling, not its size.
                       target: ``<currentMemory>`` of dom0's live XML
                       (KiB). libxl sets it from dom0's size when libvirtd
                       starts and to the new target after every
                       ``virDomainSetMemoryFlags(LIVE)``; no other API
                       returns the target. It is libvirt's record: a target
                       set behind libvirt's back (``xl mem-set``, or
                       libvirt's own autoballoon in libxl.conf) is not
                       seen, so keep autoballoon=0 there. Both are rounded
                       up to whole MiB, as the simulator does for what a
                       domain holds.
set_dom0_target        ``virDomainSetMemoryFlags(KiB, AFFECT_LIVE)``; returns
                       at once, the balloon driver works afterwards. libvirt
                       refuses a target above dom0's maximum (libxl: Xen's
                       dom0_mem=max:, else all of the host's RAM).
create_domain          ``virDomainDefineXML`` of XML built with ElementTree,
                       then ``virDomainCreate``; if the create (or anything
                       after the define) fails, the domain is destroyed and
                       undefined before the error is raised.
destroy_domain         ``virDomainDestroy`` if running, then
                       ``virDomainUndefineFlags`` if persistent.
list_domains           ``virConnectListAllDomains``, without dom0; defined
                       but shut-off domains are listed (state "shutoff",
                       domid -1, 0 MiB held).
=====================  ==================================================

dom0 is the domain with ID 0 (libxl always calls it Domain-0). libvirt's
test driver numbers domains from 1 and ignores ids in its node XML, so
when the connection has no ID 0 the backend looks dom0 up by
[libvirt] dom0_name.

Every libvirtError becomes one of the project's exceptions carrying
libvirt's message: DomainNotFound for libvirt's VIR_ERR_NO_DOMAIN,
DomainExists when a define finds the name taken, OutOfMemory when libvirt
says memory ran short (libxl's "Failed to balloon domain0 memory",
VIR_ERR_NO_MEMORY), BuildFailed for other refusals of a define or create,
and ToolstackError for everything else (including a lost connection).
"""

import logging
import re
import threading
from xml.etree import ElementTree

from xenballoon_driver import clock as clock_mod
from xenballoon_driver import exception
from xenballoon_driver.hypervisor import base
from xenballoon_driver import units
from xenballoon_driver import validation

LOG = logging.getLogger(__name__)

# The smallest target we ask for dom0 (libxl refuses below 128 MiB).
MIN_DOM0_TARGET_MB = base.MIN_DOM0_TARGET_MB
# Guest types -> libvirt's <os><type> for Xen.
OS_TYPES = {'pv': 'xen', 'pvh': 'xenpvh', 'hvm': 'hvm'}
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
# States in which a freshly created domain counts as built.
_BUILT_STATES = ('running', 'blocked', 'paused')

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


def _error_text(err):
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


def _state_name(state):
    lv = import_libvirt()
    for const, name in _STATE_NAMES:
        if state == getattr(lv, const):
            return name
    return 'unknown (%s)' % (state,)


def domain_xml(spec, kernel=None, ramdisk=None):
    """DomainSpec -> libvirt domain XML, built with ElementTree.

    Every value is checked first and every text is set through
    ElementTree, which escapes it: nothing a user gives is formatted into
    XML by hand. memory and currentMemory are both the guest's memory (no
    balloon headroom), so what libvirt builds is what we reserved.
    """
    name = validation.domain_name(spec.name)
    memory_kib = units.mib_to_kib(validation.memory_mb(spec.memory_mb))
    vcpus = validation.vcpus(spec.vcpus)
    if spec.guest_type not in OS_TYPES:
        raise exception.InvalidInput(
            what='guest type', reason='%r: use one of %s' % (
                spec.guest_type, ', '.join(sorted(OS_TYPES))))
    root = ElementTree.Element('domain', {'type': 'xen'})
    ElementTree.SubElement(root, 'name').text = name
    for tag in ('memory', 'currentMemory'):
        element = ElementTree.SubElement(root, tag, {'unit': 'KiB'})
        element.text = str(memory_kib)
    ElementTree.SubElement(root, 'vcpu').text = str(vcpus)
    os_element = ElementTree.SubElement(root, 'os')
    ElementTree.SubElement(os_element, 'type').text = OS_TYPES[
        spec.guest_type]
    if kernel:
        ElementTree.SubElement(os_element, 'kernel').text = kernel
    if ramdisk:
        ElementTree.SubElement(os_element, 'initrd').text = ramdisk
    return ElementTree.tostring(root, encoding='unicode')


def current_memory_kib(xml_text):
    """<currentMemory> of a domain's XML, in KiB."""
    try:
        root = ElementTree.fromstring(xml_text)
    except ElementTree.ParseError as err:
        raise ValueError('domain XML does not parse: %s' % err)
    element = root.find('currentMemory')
    if element is None or not (element.text or '').strip().isdigit():
        raise ValueError('domain XML has no <currentMemory> in whole units')
    unit = element.get('unit', 'KiB')
    if unit not in ('KiB', 'k'):
        raise ValueError('unexpected <currentMemory> unit %r' % unit)
    return int(element.text.strip())


class LibvirtHypervisor(base.Hypervisor):
    """A Xen host driven through libvirt (see the module docstring)."""

    hypervisor_type = 'xen (libvirt)'

    def __init__(self, conf):
        self.libvirt = import_libvirt()
        self.options = conf.libvirt
        self.uri = self.options.uri
        self.kernel = validation.abs_path(
            self.options.guest_kernel, '[libvirt] guest_kernel',
            required=False, plain=False)
        self.ramdisk = validation.abs_path(
            self.options.guest_ramdisk, '[libvirt] guest_ramdisk',
            required=False, plain=False)
        self.clock = clock_mod.RealClock()
        self._lock = threading.RLock()
        self._conn = None
        self._dom0 = None
        # Connect and find dom0 now, so that a bad URI or a host without
        # dom0 fails at start-up rather than in the middle of a spawn.
        dom0 = self._dom0_domain()
        LOG.info('libvirt backend: %s (%s), dom0 is %s', self.uri,
                 self._call('virConnectGetType', self.connection.getType),
                 dom0.name())

    # -- the connection ----------------------------------------------------

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
                    reason=_error_text(err), code=err.get_error_code())
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
        return exception.ToolstackError(call=call, reason=_error_text(err),
                                        code=err.get_error_code())

    def _call(self, call, fn, *args):
        """fn(*args); any libvirtError becomes a ToolstackError."""
        try:
            return fn(*args)
        except self.libvirt.libvirtError as err:
            raise self._toolstack_error(call, err)

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
                               self.uri, name, _error_text(err)),
                    code=err.get_error_code())
        if self._call('virDomainIsActive(dom0)', dom0.isActive) != 1:
            raise exception.ToolstackError(
                call='virDomainIsActive(%s)' % dom0.name(),
                reason='dom0 %s is not running' % dom0.name())
        with self._lock:
            if self._conn is conn:
                self._dom0 = dom0
        return dom0

    # -- the contract ------------------------------------------------------

    def host_memory(self):
        conn = self.connection
        info = self._call('virNodeGetInfo', conn.getInfo)
        free = self._call('virNodeGetFreeMemory', conn.getFreeMemory)
        # libvirt-python's getInfo() gives the node's memory in MiB.
        return base.HostMemory(total_mb=int(info[1]),
                               free_mb=units.bytes_to_mib_floor(free),
                               claimed_mb=0)

    def host_info(self):
        conn = self.connection
        # [model, MiB, cpus, MHz, nodes, sockets, cores, threads]
        info = self._call('virNodeGetInfo', conn.getInfo)
        # The hypervisor's version in Nova's integer form already.
        version = self._call('virConnectGetVersion', conn.getVersion)
        return base.HostInfo(cpus=int(info[2]),
                             hypervisor_version=int(version),
                             arch=info[0] or 'x86_64',
                             cores_per_socket=int(info[6]),
                             threads_per_core=int(info[7]))

    def dom0_memory(self):
        dom0 = self._dom0_domain()
        name = dom0.name()
        info = self._call('virDomainGetInfo(%s)' % name, dom0.info)
        xml_text = self._call('virDomainGetXMLDesc(%s)' % name, dom0.XMLDesc,
                              0)
        try:
            target_kib = current_memory_kib(xml_text)
        except ValueError as err:
            raise exception.ToolstackError(
                call='virDomainGetXMLDesc(%s)' % name,
                reason='cannot read dom0\'s target: %s' % err)
        return base.Dom0Memory(current_mb=units.kib_to_mib_ceil(info[2]),
                               target_mb=units.kib_to_mib_ceil(target_kib))

    def set_dom0_target(self, target_mb):
        call = 'virDomainSetMemoryFlags(dom0, %s MiB, AFFECT_LIVE)' % (
            target_mb,)
        base.check_dom0_target(call, target_mb)
        dom0 = self._dom0_domain()
        self._call(call, dom0.setMemoryFlags, units.mib_to_kib(target_mb),
                   self.libvirt.VIR_DOMAIN_AFFECT_LIVE)

    def create_domain(self, spec):
        """Define and start the domain; on failure nothing of it is left.

        DomainExists when libvirt finds the name taken (that domain is
        someone else's and is left alone), OutOfMemory when libvirt says
        memory ran short, BuildFailed for other refusals, ToolstackError
        when libvirt cannot be reached. Once our define succeeded, any
        failure destroys and undefines that domain before raising.
        """
        xml_text = domain_xml(spec, self.kernel, self.ramdisk)
        conn = self.connection
        try:
            dom = conn.defineXML(xml_text)
        except self.libvirt.libvirtError as err:
            raise self._build_error(spec, 'virDomainDefineXML(%s)' %
                                    spec.name, err)
        try:
            try:
                dom.create()
            except self.libvirt.libvirtError as err:
                raise self._build_error(spec, 'virDomainCreate(%s)' %
                                        spec.name, err)
            try:
                info = self._info(dom)
            except self.libvirt.libvirtError as err:
                raise self._build_error(spec, 'virDomainGetInfo(%s)' %
                                        spec.name, err)
            if info.state not in _BUILT_STATES:
                raise exception.BuildFailed(
                    name=spec.name, reason='libvirt started it but it is '
                                           '%s' % info.state)
            return info
        except BaseException:
            self._remove_failed(dom)
            raise

    def _build_error(self, spec, call, err):
        text = _error_text(err)
        kind = error_kind(err.get_error_code(), text)
        if kind == 'exists':
            return exception.DomainExists(
                'A domain named %s already exists (libvirt: %s)' % (
                    spec.name, text), name=spec.name, reason=text)
        if kind == 'out_of_memory':
            try:
                free = self.host_memory().usable_mb
                free_text = '%d MiB' % free
            except exception.XenBalloonException:
                free, free_text = None, 'unknown MiB'
            return exception.OutOfMemory(
                'Out of memory for %s: needs %d MiB, %s free (libvirt: %s)' % (
                    spec.name, spec.footprint_mb, free_text, text),
                name=spec.name, need_mb=spec.footprint_mb, free_mb=free,
                reason=text)
        if kind == 'connection':
            return self._toolstack_error(call, err)
        return exception.BuildFailed(name=spec.name,
                                     reason='%s: %s' % (call, text),
                                     code=err.get_error_code())

    def _remove_failed(self, dom):
        """Destroy and undefine our own half-built domain; log, not raise."""
        name = dom.name()
        try:
            if dom.isActive() == 1:
                dom.destroy()
            dom.undefineFlags(self.libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
            LOG.info('Destroyed and undefined %s after its create failed',
                     name)
        except self.libvirt.libvirtError as err:
            if err.get_error_code() != self.libvirt.VIR_ERR_NO_DOMAIN:
                LOG.error('Could not remove %s after its create failed: %s',
                          name, _error_text(err))

    def destroy_domain(self, name):
        validation.domain_name(name)
        dom0 = self._dom0_domain()
        if name == dom0.name():
            raise exception.InvalidInput(what='domain name',
                                         reason='%s is dom0, which is never '
                                                'destroyed' % name)
        conn = self.connection
        try:
            dom = conn.lookupByName(name)
        except self.libvirt.libvirtError as err:
            if err.get_error_code() == self.libvirt.VIR_ERR_NO_DOMAIN:
                raise exception.DomainNotFound(
                    'No domain named %s (libvirt: %s)' % (
                        name, _error_text(err)),
                    name=name, reason=_error_text(err))
            raise self._toolstack_error('virDomainLookupByName(%s)' % name,
                                        err)
        if dom.ID() == 0 or dom.UUIDString() == dom0.UUIDString():
            raise exception.InvalidInput(what='domain name',
                                         reason='%s is dom0, which is never '
                                                'destroyed' % name)
        self._gone_ok('virDomainDestroy(%s)' % name, self._destroy, dom)
        self._gone_ok('virDomainUndefineFlags(%s)' % name, self._undefine,
                      dom)

    @staticmethod
    def _destroy(dom):
        if dom.isActive() == 1:
            dom.destroy()

    def _undefine(self, dom):
        if dom.isPersistent() == 1:
            dom.undefineFlags(self.libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)

    def _gone_ok(self, call, fn, dom):
        """fn(dom); the domain vanishing meanwhile counts as done."""
        try:
            fn(dom)
        except self.libvirt.libvirtError as err:
            if err.get_error_code() != self.libvirt.VIR_ERR_NO_DOMAIN:
                raise self._toolstack_error(call, err)

    def list_domains(self):
        conn = self.connection
        dom0_uuid = self._dom0_domain().UUIDString()
        domains = self._call('virConnectListAllDomains', conn.listAllDomains,
                             0)
        result = []
        for dom in domains:
            if dom.ID() == 0 or dom.UUIDString() == dom0_uuid:
                continue
            try:
                result.append(self._info(dom))
            except self.libvirt.libvirtError as err:
                if err.get_error_code() == self.libvirt.VIR_ERR_NO_DOMAIN:
                    continue  # gone since the listing
                raise self._toolstack_error(
                    'virDomainGetInfo(%s)' % dom.name(), err)
        return sorted(result, key=lambda info: info.name)

    def _info(self, dom):
        """DomainInfo; raises libvirtError (callers map it)."""
        state, _max_kib, memory_kib, vcpus, _cpu_time = dom.info()
        state_name = _state_name(state)
        held = (0 if state_name == 'shutoff' else
                units.kib_to_mib_ceil(memory_kib))
        return base.DomainInfo(name=dom.name(), domid=dom.ID(),
                               memory_mb=held, vcpus=vcpus, state=state_name)
