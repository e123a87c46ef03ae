"""Hypervisor backends, loaded by name with stevedore.

base.py         the contract (Hypervisor, DomainSpec, DomainInfo, ...)
footprint.py    what a domain takes from Xen: memory + libxl's overhead
xl*.py          the "xl" backend: xl.py (the contract), xl_calls.py
                (running xl, as root or through privsep.py), xl_ops.py
                (what root runs), xl_exec.py, xl_parse.py (stdout),
                xl_messages.py (stderr), xl_settings.py (xl.conf),
                xl_config.py (guest configs), xl_sysfs.py (dom0's balloon)
libvirt_*.py    the "libvirt" backend: libvirt_backend.py (the contract),
                libvirt_conn.py (libvirt-python, the connection),
                libvirt_xml.py (domain XML)
"""

from stevedore import driver as stevedore_driver
from stevedore import exception as stevedore_exception
from stevedore import extension

from xenballoon_driver import exception

NAMESPACE = 'xenballoon_driver.hypervisors'


def available():
    return sorted(extension.ExtensionManager(NAMESPACE).names())


def _reraise(manager, entrypoint, err):
    # stevedore would log a plugin's start-up error and then report "no
    # such driver"; the plugin's own error (a bad scenario, say) is clearer.
    raise err


def load(conf, name=None, **kwargs):
    name = name or conf.hypervisor.driver
    try:
        manager = stevedore_driver.DriverManager(
            NAMESPACE, name, invoke_on_load=True,
            invoke_args=(conf,), invoke_kwds=kwargs,
            on_load_failure_callback=_reraise,
            warn_on_missing_entrypoint=False)
    except stevedore_exception.NoMatches:
        raise exception.BackendNotFound(
            name=name, available=', '.join(available()) or '(none)')
    return manager.driver
