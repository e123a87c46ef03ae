"""Privilege separation: xl for a service that does not run as root.

xl needs root (it opens /dev/xen/privcmd and talks to xenstored). Run as
root, the xl backend calls the checked functions of xl_ops.py
directly; otherwise it calls the entry points below, which oslo.privsep
runs (with those same functions) in a privileged daemon started on first use
through ``sudo privsep-helper`` (set [xenballoon_xl_privileged]
helper_command to change that), as OpenStack drivers do.

The privileged side takes only typed, checked arguments (see
xl_ops.py): one entry point per xl command the backend needs,
names by our rule, sizes as ints within bounds, a guest config it renders
itself from checked fields into a directory of its own. The xl binary,
timeouts and allowed boot-file directories are the daemon's own [xl]
options; the answer is a plain tuple (see xl_exec.run). No path or free
string from the caller reaches xl: a compromised service user can ask
for no more than the backend itself asks for.
"""

from oslo_config import cfg
from oslo_privsep import capabilities as caps
from oslo_privsep import priv_context

# Registers [xl] on cfg.CONF, which the daemon reads its own options from.
from xenballoon_driver import conf  # noqa: F401
from xenballoon_driver.hypervisor import xl_ops

xl_pctxt = priv_context.PrivContext(
    'xenballoon_driver',
    cfg_section='xenballoon_xl_privileged',
    pypath=__name__ + '.xl_pctxt',
    # privcmd hypercalls need CAP_SYS_ADMIN; xl opens root-only device
    # nodes, lock and log files (DAC_*, FOWNER, CHOWN), locks hypercall
    # buffers in memory (IPC_LOCK) and signals its own helpers (KILL).
    capabilities=[caps.CAP_SYS_ADMIN, caps.CAP_DAC_OVERRIDE,
                  caps.CAP_DAC_READ_SEARCH, caps.CAP_FOWNER, caps.CAP_CHOWN,
                  caps.CAP_IPC_LOCK, caps.CAP_KILL],
)


def _entry_point(op):
    """The privileged side of ``op``: xl_ops.<op>(its own [xl], *args).

    The caller's arguments are xl_ops's own typed, checked ones; the
    options are always the daemon's.
    """
    def call(*args):
        return getattr(xl_ops, op)(cfg.CONF.xl, *args)
    # privsep finds an entry point again by its module and name.
    call.__name__ = call.__qualname__ = op
    return xl_pctxt.entrypoint(call)


# One per xl command the backend needs (see xl_ops.py); an xl backend
# running as root calls the same xl_ops functions in-process.
info = _entry_point('info')
list_domains = _entry_point('list_domains')
dom0_list = _entry_point('dom0_list')
dom0_list_long = _entry_point('dom0_list_long')
list_long = _entry_point('list_long')
domain_list = _entry_point('domain_list')
set_dom0_target = _entry_point('set_dom0_target')
create_domain = _entry_point('create_domain')
destroy_domain = _entry_point('destroy_domain')
shutdown_domain = _entry_point('shutdown_domain')
pause_domain = _entry_point('pause_domain')
unpause_domain = _entry_point('unpause_domain')
save_domain = _entry_point('save_domain')
restore_domain = _entry_point('restore_domain')
console_log = _entry_point('console_log')
