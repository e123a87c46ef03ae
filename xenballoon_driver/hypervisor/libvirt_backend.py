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
create_domain          ``virDomainCreateXML`` of XML built with
                       ElementTree: a transient domain, as xl's are, so a
                       guest that shuts down or is saved is gone (the
                       driver keeps its spec for the next start); if
                       anything after the create fails, the domain is
                       destroyed before the error is raised.
destroy_domain         ``virDomainDestroy`` if running, then
                       ``virDomainUndefineFlags`` if persistent.
list_domains           ``virConnectListAllDomains``, without dom0; defined
                       but shut-off domains are listed (state "shutoff",
                       domid -1, 0 MiB held).
lifecycle              shutdown, pause, console, save/restore, uptime:
                       libvirt_power.py
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

from oslo_log import log as logging

from xenballoon_driver import clock as clock_mod
from xenballoon_driver import exception
from xenballoon_driver.hypervisor import base
from xenballoon_driver.hypervisor import libvirt_conn
from xenballoon_driver.hypervisor import libvirt_power
from xenballoon_driver.hypervisor import libvirt_xml
from xenballoon_driver import units
from xenballoon_driver import validation

LOG = logging.getLogger(__name__)

# The smallest target we ask for dom0 (libxl refuses below 128 MiB).
MIN_DOM0_TARGET_MB = base.MIN_DOM0_TARGET_MB
# States in which a freshly created domain counts as built.
_BUILT_STATES = ('running', 'blocked', 'paused')


class LibvirtHypervisor(libvirt_power.LibvirtPower,
                        libvirt_conn.LibvirtConnection, base.Hypervisor):
    """A Xen host driven through libvirt (see the module docstring)."""

    hypervisor_type = 'xen (libvirt)'
    # dom0's Linux balloon may pause (back-off) where balloon_state()
    # cannot show it: the balloon wait then uses blind_stall_timeout.
    hides_balloon_pauses = True

    def __init__(self, conf):
        super().__init__(conf.libvirt)
        self.kernel = validation.abs_path(
            self.options.guest_kernel, '[libvirt] guest_kernel',
            required=False, plain=False)
        self.ramdisk = validation.abs_path(
            self.options.guest_ramdisk, '[libvirt] guest_ramdisk',
            required=False, plain=False)
        self.clock = clock_mod.RealClock()
        # Connect and find dom0 now, so that a bad URI or a host without
        # dom0 fails at start-up rather than in the middle of a spawn.
        dom0 = self._dom0_domain()
        LOG.info('libvirt backend: %s (%s), dom0 is %s', self.uri,
                 self._call('virConnectGetType', self.connection.getType),
                 dom0.name())

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
            target_kib = libvirt_xml.current_memory_kib(xml_text)
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
        """Start a transient domain; on failure nothing of it is left.

        DomainExists when libvirt finds the name taken (that domain is
        someone else's and is left alone), OutOfMemory when libvirt says
        memory ran short, BuildFailed for other refusals, ToolstackError
        when libvirt cannot be reached. Once our create succeeded, any
        failure destroys that domain before raising.
        """
        xml_text = libvirt_xml.domain_xml(spec, self.kernel, self.ramdisk)
        try:
            dom = self.connection.createXML(xml_text, 0)
        except self.libvirt.libvirtError as err:
            raise self._build_error(spec, 'virDomainCreateXML(%s)' %
                                    spec.name, err)
        try:
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
        text = libvirt_conn.error_text(err)
        kind = libvirt_conn.error_kind(err.get_error_code(), text)
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
            self._undefine(dom)
            LOG.info('Destroyed %s after its create failed', name)
        except self.libvirt.libvirtError as err:
            if err.get_error_code() != self.libvirt.VIR_ERR_NO_DOMAIN:
                LOG.error('Could not remove %s after its create failed: %s',
                          name, libvirt_conn.error_text(err))

    def destroy_domain(self, name):
        validation.domain_name(name)
        dom0 = self._dom0_domain()
        if name == dom0.name():
            raise exception.InvalidInput(what='domain name',
                                         reason='%s is dom0, which is never '
                                                'destroyed' % name)
        dom = self._lookup(name)
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
        state_name = libvirt_conn.state_name(state)
        held = (0 if state_name == 'shutoff' else
                units.kib_to_mib_ceil(memory_kib))
        return base.DomainInfo(name=dom.name(), domid=dom.ID(),
                               memory_mb=held, vcpus=vcpus, state=state_name,
                               uuid=dom.UUIDString().lower())
