"""libvirt domain XML: built for a new guest, read for dom0's target."""

from xml.etree import ElementTree

from xenballoon_driver import exception
from xenballoon_driver import units
from xenballoon_driver import validation

# Guest types -> libvirt's <os><type> for Xen.
OS_TYPES = {'pv': 'xen', 'pvh': 'xenpvh', 'hvm': 'hvm'}


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
    if spec.uuid is not None:
        # The instance's: libvirt keeps it as the domain's own UUID.
        ElementTree.SubElement(root, 'uuid').text = validation.instance_uuid(
            spec.uuid)
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
    _devices(root, spec)
    return ElementTree.tostring(root, encoding='unicode')


def _devices(root, spec):
    """<disk> and <interface> elements, their values checked again.

    File-backed raw disks on Xen's PV bus (libxl's qdisk backend), and
    interfaces on a bridge; ElementTree escapes every attribute.
    """
    disks = validation.disks(list(spec.disks))
    vifs = validation.vifs(list(spec.vifs))
    if not disks and not vifs:
        return
    devices = ElementTree.SubElement(root, 'devices')
    for disk in disks:
        element = ElementTree.SubElement(devices, 'disk',
                                         {'type': 'file', 'device': 'disk'})
        ElementTree.SubElement(element, 'driver',
                               {'name': 'qemu', 'type': 'raw'})
        ElementTree.SubElement(element, 'source', {'file': disk['path']})
        ElementTree.SubElement(element, 'target',
                               {'dev': disk['vdev'], 'bus': 'xen'})
    for vif in vifs:
        element = ElementTree.SubElement(devices, 'interface',
                                         {'type': 'bridge'})
        ElementTree.SubElement(element, 'mac', {'address': vif['mac']})
        ElementTree.SubElement(element, 'source', {'bridge': vif['bridge']})


def console_log_path(xml_text):
    """The file libvirt logs the guest's console into, or None.

    <console> or <serial> with a <log file=...> child (libvirt keeps
    no console log otherwise).
    """
    try:
        root = ElementTree.fromstring(xml_text)
    except ElementTree.ParseError:
        return None
    for tag in ('devices/console/log', 'devices/serial/log'):
        element = root.find(tag)
        if element is not None and element.get('file'):
            return element.get('file')
    return None


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
