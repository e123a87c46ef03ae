"""Privilege separation: xl for a service that does not run as root.

xl needs root (it opens /dev/xen/privcmd and talks to xenstored). Run as
root, the xl backend calls xl directly; otherwise it calls ``run_xl``
below, which oslo.privsep runs in a privileged daemon started on first use
through ``sudo privsep-helper`` (set [xenballoon_xl_privileged]
helper_command to change that), as OpenStack drivers do.

The privileged side takes as little as it can from the caller: the xl
binary is the daemon's own [xl] command, the subcommand must be one the
backend uses, and the answer is a plain tuple (see xl_exec.run).
"""

from oslo_config import cfg
from oslo_privsep import capabilities as caps
from oslo_privsep import priv_context

# Registers [xl] on cfg.CONF, which the daemon reads its command from.
from xenballoon_driver import conf  # noqa: F401
from xenballoon_driver.hypervisor import xl_exec

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


@xl_pctxt.entrypoint
def run_xl(args, timeout):
    """Run the configured xl with ``args`` as root; see xl_exec.run."""
    args = [str(a) for a in args]
    if not args or args[0] not in xl_exec.SUBCOMMANDS:
        return (xl_exec.REFUSED, None, '',
                'the privileged xl runner only runs %s, not %r' % (
                    ', '.join(xl_exec.SUBCOMMANDS), args[:1]))
    return xl_exec.run(cfg.CONF.xl.command, args, float(timeout))
