"""The "xl" backend: the real Xen toolstack, through the xl command.

Every call runs one of the checked operations of xl_ops.py, as root or
through the privsep daemon, retrying looks (see xl_calls.py), and reads
its output with xl_parse.py:

=====================  ==================================================
host_memory            ``xl info``: total_memory, free_memory,
                       outstanding_claims (MiB)
host_info              ``xl info``: nr_cpus, cores_per_socket,
                       threads_per_core, machine, xen_version
dom0_memory            dom0's balloon driver in sysfs (see xl_sysfs.py),
                       once it agreed with xl at the first look; without
                       it ``xl list 0`` (Mem: dom0's current size) and
                       ``xl list -l 0`` (b_info.target_memkb)
balloon_state          the same directory's schedule_delay, retry_count
                       and their maxima, and /proc/meminfo's MemAvailable
                       (xl_sysfs.py); None without that directory
set_dom0_target        ``xl mem-set 0 <N>m``
create_domain          ``xl create <file>``, a config the side that runs
                       xl renders from checked fields into a private
                       temporary directory of its own (xl_build.py)
restore_domain         ``xl restore <file> PATH``, the same config
shutdown_domain        ``xl shutdown -F <name>`` (xl_power.py, as below)
pause_domain,          ``xl pause`` / ``xl unpause <name>``, then ``xl list
unpause_domain         <name>``: xl exits 0 whatever libxl said
save_domain            ``xl save <name> PATH``, then ``xl list <name>``
console_output         xenconsoled's guest-NAME.log ([xl] console_log_dir)
host_uptime            /proc/uptime and /proc/loadavg, as uptime prints
destroy_domain         ``xl destroy <name>``, then ``xl list <name>``: an
                       exit 0 that left the domain is an error
list_domains           ``xl list``; ``xl list -l`` for new domains' UUIDs
memory                 the base class's: ``xl info`` first, then dom0
                       (xl has no single look at both; reading free memory
                       first never counts a MiB twice while dom0 balloons)
=====================  ==================================================

Every failure becomes one of the project's exceptions carrying xl's
message: DomainExists, DomainNotFound, OutOfMemory, BuildFailed, and
ToolstackError for the rest (xl missing, killed after a timeout, a
non-zero exit, output that does not parse or makes no sense).

Claims: with xl.conf's claim_mode off, a create can race other memory
users and fail half-way; this backend warns at start-up (xl_settings.py).
"""

from oslo_log import log as logging

from xenballoon_driver import clock as clock_mod
from xenballoon_driver import exception
from xenballoon_driver.hypervisor import base
from xenballoon_driver.hypervisor import xl_build
from xenballoon_driver.hypervisor import xl_calls
from xenballoon_driver.hypervisor import xl_config
from xenballoon_driver.hypervisor import xl_messages
from xenballoon_driver.hypervisor import xl_parse
from xenballoon_driver.hypervisor import xl_power
from xenballoon_driver.hypervisor import xl_settings
from xenballoon_driver.hypervisor import xl_sysfs
from xenballoon_driver import validation

LOG = logging.getLogger(__name__)

# The smallest target xl accepts for dom0 (libxl refuses below 128 MiB).
MIN_DOM0_TARGET_MB = base.MIN_DOM0_TARGET_MB
# How long the balloon driver may take to show a target xl just set (it
# follows xenstore's memory/target through a watch: milliseconds).
SYSFS_TARGET_WAIT_S = 2.0


class XlHypervisor(xl_build.XlBuild, xl_power.XlPower, xl_calls.XlCalls,
                   base.Hypervisor):
    """A Xen host driven through xl (see the module docstring)."""

    hypervisor_type = 'xen (xl)'
    # dom0's Linux balloon may pause (back-off) where balloon_state()
    # cannot show it: the balloon wait then uses blind_stall_timeout.
    hides_balloon_pauses = True

    def __init__(self, conf):
        super().__init__(conf.xl)
        self.clock = clock_mod.RealClock()
        self.claim_mode, self.autoballoon = xl_settings.read(
            self.options.xl_conf)
        self.balloon_dir = None
        # dom0's /proc/meminfo (MemAvailable); another path in tests.
        self.meminfo_path = xl_sysfs.MEMINFO
        # Trusted only once it agreed with xl (_check_balloon_dir).
        self._balloon_dir_checked = False
        if xl_sysfs.available(self.options.dom0_balloon_dir):
            self.balloon_dir = self.options.dom0_balloon_dir
        validation.abs_path(self.options.guest_kernel, '[xl] guest_kernel',
                            required=False)
        validation.abs_path(self.options.guest_ramdisk,
                            '[xl] guest_ramdisk', required=False)

    # -- the contract ----------------------------------------------------

    def host_memory(self):
        return self._look('xl info', 'info', xl_parse.host_memory)

    def host_info(self):
        return self._look('xl info', 'info', xl_parse.host_info)

    def dom0_memory(self):
        if self.balloon_dir and not self._balloon_dir_checked:
            return self._check_balloon_dir()
        if self.balloon_dir:
            return self._read_balloon_dir()
        return self._dom0_from_xl()

    def balloon_state(self):
        """dom0's balloon back-off and MemAvailable (xl_sysfs.py).

        None without a trusted balloon directory, or on a kernel that
        does not show the back-off.
        """
        if self.balloon_dir and not self._balloon_dir_checked:
            self._check_balloon_dir()
        directory = self.balloon_dir
        if not directory:
            return None
        return self._retried('read %s' % directory,
                             lambda: xl_sysfs.balloon_state(
                                 directory, self.meminfo_path))

    def _dom0_from_xl(self):
        current = self._look(
            'xl list 0', 'dom0_list',
            lambda text: xl_parse.dom0_row(xl_parse.parse_list(text)).mem_mb)
        target = self._look(
            'xl list -l 0', 'dom0_list_long',
            lambda text: xl_parse.dom0_target_mb(
                xl_parse.parse_list_long(text)))
        return base.Dom0Memory(current_mb=current, target_mb=target)

    def _read_balloon_dir(self):
        directory = self.balloon_dir
        return self._retried('read %s' % directory,
                             lambda: xl_sysfs.dom0_memory(directory))

    def _check_balloon_dir(self):
        """Trust the balloon directory only if xl agrees with it; dom0.

        Once per backend (one per process), at the first look at dom0: a
        directory that exists but does not follow dom0 (stale, or not
        this dom0's) would otherwise be believed by every process that
        never calls mem-set. xl reads a moment after sysfs, so its
        figures must lie between two sysfs readings taken around it,
        within [xl] sysfs_check_tolerance_mb (xl rounds down; at rest the
        two agree exactly: captures, REPORT.md "xl list 0 vs sysfs").
        """
        before = self._read_balloon_dir()
        seen = self._dom0_from_xl()
        after = self._read_balloon_dir()
        slack = self.options.sysfs_check_tolerance_mb

        def within(field):
            low = min(getattr(before, field), getattr(after, field))
            high = max(getattr(before, field), getattr(after, field))
            return low - slack <= getattr(seen, field) <= high + slack

        self._balloon_dir_checked = True
        if within('current_mb') and within('target_mb'):
            return after
        LOG.warning(
            '%s does not agree with xl: it says dom0 holds %d MiB with a '
            'target of %d MiB, xl list 0 / xl list -l 0 say %d MiB and %d '
            'MiB (tolerance %d MiB). Reading dom0 with xl from now on; set '
            '[xl] dom0_balloon_dir to dom0\'s balloon directory (or empty) '
            'to avoid this.', self.balloon_dir, after.current_mb,
            after.target_mb, seen.current_mb, seen.target_mb, slack)
        self.balloon_dir = None
        return seen

    def set_dom0_target(self, target_mb):
        call = 'xl mem-set 0 %sm' % (target_mb,)
        base.check_dom0_target(call, target_mb)
        # Not retried: a mem-set that timed out may have been done.
        self._checked(call, 'set_dom0_target', target_mb)
        if self.balloon_dir:
            self._wait_sysfs_target(target_mb)

    def _wait_sysfs_target(self, target_mb):
        """Until the balloon driver shows the target xl set, or give up.

        So that the next look does not read the old target. A driver that
        never shows it is not followed again: dom0 is then read with xl.
        """
        deadline = self.clock.now() + SYSFS_TARGET_WAIT_S
        while self._read_balloon_dir().target_mb != target_mb:
            if self.clock.now() >= deadline:
                LOG.warning('%s/target_kb does not follow xl mem-set (asked '
                            '%d MiB): reading dom0 with xl from now on',
                            self.balloon_dir, target_mb)
                self.balloon_dir = None
                return
            self.clock.sleep(0.01)

    def destroy_domain(self, name):
        """``xl destroy``, then one look that the domain is gone.

        DomainNotFound if there was no such domain; ToolstackError if xl
        failed, or exited 0 but the domain is still listed (xl has been
        seen to do that): the caller must not count its memory as back.
        Not retried: only looks are.
        """
        name = xl_config.guest_name(name)
        call = 'xl destroy %s' % name
        result = self._run(call, 'destroy_domain', name)
        if result.code != 0:
            if xl_messages.says_not_found(result.stderr):
                raise exception.DomainNotFound(
                    name=name, reason=xl_messages.message(result.stderr))
            raise exception.ToolstackError(
                call=call, reason=self._exit_reason(result),
                code=result.code, stderr=result.stderr)
        still = self._domain_listed(name)
        if still is not None:
            raise exception.ToolstackError(
                call=call, reason='xl exited 0 but xl list %s still shows the '
                                  'domain (id %d, %d MiB): it was not '
                                  'destroyed; its memory is not back. Try '
                                  'the destroy again' % (
                                      name, still.domid, still.mem_mb),
                code=0, domain_left=True)

    def _domain_listed(self, name):
        """``xl list NAME``'s row for ``name``, or None if xl knows none."""
        call = 'xl list %s' % name

        def look():
            result = self._run(call, 'domain_list', name)
            if result.code != 0 and xl_messages.says_not_found(result.stderr):
                return None
            if result.code != 0:
                raise exception.ToolstackError(
                    call=call, reason=self._exit_reason(result),
                    code=result.code, stderr=result.stderr)
            rows = self._parsed(call, xl_parse.parse_list, result.stdout)
            return next((row for row in rows if row.name == name), None)
        return self._retried(call, look)

    def list_domains(self):
        def parse(text):
            rows = xl_parse.parse_list(text)
            xl_parse.dom0_row(rows)
            return rows
        rows = [r for r in self._look('xl list', 'list_domains', parse)
                if r.domid != 0]
        uuids = self._guest_uuids(rows)
        return [base.DomainInfo(name=row.name, domid=row.domid,
                                memory_mb=row.mem_mb, vcpus=row.vcpus,
                                state=row.state, uuid=uuids.get(row.domid))
                for row in rows]
