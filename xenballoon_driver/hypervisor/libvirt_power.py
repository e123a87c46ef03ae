"""The guest lifecycle through libvirt, for LibvirtHypervisor.

=====================  ==================================================
shutdown_domain        ``virDomainShutdown``: asks the guest, returns at
                       once. A persistent domain that has shut down is
                       then listed as "shutoff" (0 MiB held), not gone.
pause_domain           ``virDomainSuspend`` (libvirt's name for a pause)
unpause_domain         ``virDomainResume``
console_output         the <log file=...> of the domain's <console> or
                       <serial>, its last 100 KiB; libvirt keeps no
                       console log otherwise: ConsoleUnavailable
save_domain            ``virDomainSave(path)``: memory to disk, the domain
                       stops (it stays defined)
restore_domain         ``virDomainRestore(path)``: libvirt builds the
                       domain from the XML it saved with it; failures as
                       create_domain's
host_uptime            /proc of this host, for a local connection only
=====================  ==================================================
"""

import os
import re

from oslo_log import log as logging

from xenballoon_driver import exception
from xenballoon_driver.hypervisor import host_uptime
from xenballoon_driver.hypervisor import libvirt_xml
from xenballoon_driver import validation

LOG = logging.getLogger(__name__)

CONSOLE_MAX_BYTES = 100 * 1024
# A URI naming another machine: transport://host/ or driver://host/.
_REMOTE_URI_RE = re.compile(r'^[a-z0-9+]+://[^/]')


class LibvirtPower:
    """The lifecycle calls of the contract (see the module docstring)."""

    def shutdown_domain(self, name):
        dom = self._guest(name)
        self._call('virDomainShutdown(%s)' % name, dom.shutdown, name=name)

    def pause_domain(self, name):
        dom = self._guest(name)
        self._call('virDomainSuspend(%s)' % name, dom.suspend, name=name)

    def unpause_domain(self, name):
        dom = self._guest(name)
        self._call('virDomainResume(%s)' % name, dom.resume, name=name)

    def console_output(self, name):
        dom = self._guest(name)
        xml_text = self._call('virDomainGetXMLDesc(%s)' % name, dom.XMLDesc,
                              0)
        path = libvirt_xml.console_log_path(xml_text)
        if path is None:
            raise exception.ConsoleUnavailable(
                name=name, reason='its libvirt XML has no <console> or '
                                  '<serial> with a <log file=...>')
        try:
            with open(path, 'rb') as f:
                f.seek(max(0, os.fstat(f.fileno()).st_size -
                           CONSOLE_MAX_BYTES))
                return f.read(CONSOLE_MAX_BYTES).decode('utf-8', 'replace')
        except OSError as err:
            raise exception.ConsoleUnavailable(
                name=name, reason='cannot read %s: %s' % (path, err.strerror))

    def save_domain(self, name, path):
        validation.abs_path(path, 'save file', plain=False)
        dom = self._guest(name)
        self._call('virDomainSave(%s, %s)' % (name, path), dom.save, path,
                   name=name)

    def restore_domain(self, spec, path):
        validation.abs_path(path, 'save file', plain=False)
        call = 'virDomainRestore(%s)' % path
        try:
            self.connection.restore(path)
        except self.libvirt.libvirtError as err:
            raise self._build_error(spec, call, err)
        return self.domain_info(spec.name)

    def host_uptime(self):
        if _REMOTE_URI_RE.match(self.uri or ''):
            raise exception.Unsupported(what='host uptime over %s' %
                                        self.uri, backend=self.hypervisor_type)
        return host_uptime.read()

    def _guest(self, name):
        """The virDomain of guest ``name``: never dom0; DomainNotFound."""
        validation.domain_name(name)
        dom0 = self._dom0_domain()
        if name == dom0.name():
            raise exception.InvalidInput(what='domain name',
                                         reason='%s is dom0' % name)
        return self._lookup(name)
