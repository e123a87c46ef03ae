"""Privilege separation: xl for a service that does not run as root.

xl needs root (it opens /dev/xen/privcmd and talks to xenstored). Run as
root, the xl backend calls the checked functions of hypervisor/xl_ops.py
directly; otherwise it calls the entry points below, which oslo.privsep
runs (with those same functions) in a privileged daemon started on first use
through ``sudo privsep-helper`` (set [xenballoon_xl_privileged]
helper_command to change that), as OpenStack drivers do.

The privileged side takes only typed, checked arguments (see
hypervisor/xl_ops.py): one entry point per xl command the backend needs,
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


# Each entry point hands its arguments to the same checked function
# that an xl backend running as root calls in-process.


@xl_pctxt.entrypoint
def info():
    return xl_ops.info(cfg.CONF.xl)


@xl_pctxt.entrypoint
def list_domains():
    return xl_ops.list_domains(cfg.CONF.xl)


@xl_pctxt.entrypoint
def dom0_list():
    return xl_ops.dom0_list(cfg.CONF.xl)


@xl_pctxt.entrypoint
def dom0_list_long():
    return xl_ops.dom0_list_long(cfg.CONF.xl)


@xl_pctxt.entrypoint
def domain_list(name):
    return xl_ops.domain_list(cfg.CONF.xl, name)


@xl_pctxt.entrypoint
def set_dom0_target(target_mb):
    return xl_ops.set_dom0_target(cfg.CONF.xl, target_mb)


@xl_pctxt.entrypoint
def create_domain(fields):
    return xl_ops.create_domain(cfg.CONF.xl, fields)


@xl_pctxt.entrypoint
def destroy_domain(name):
    return xl_ops.destroy_domain(cfg.CONF.xl, name)
