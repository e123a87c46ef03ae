"""The backend contract: what the driver needs from a Xen toolstack.

All memory is whole MiB; each backend converts its tool's KiB or pages
exactly at this boundary, and turns its tool's failures into the
project's exceptions with the tool's message attached.
"""

import abc
import dataclasses
import re

from xenballoon_driver import exception
from xenballoon_driver.hypervisor import footprint
from xenballoon_driver import validation

# The smallest dom0 target libxl accepts; a real dom0 needs far more.
MIN_DOM0_TARGET_MB = 128


def check_dom0_target(call, target_mb):
    """Refuse a dom0 target no toolstack should be asked for."""
    if isinstance(target_mb, bool) or not isinstance(target_mb, int):
        raise exception.ToolstackError(
            call=call, reason='the target must be whole MiB, not %r' % (
                target_mb,))
    if target_mb < MIN_DOM0_TARGET_MB:
        raise exception.ToolstackError(
            call=call, reason='target below the %d MiB minimum' %
            MIN_DOM0_TARGET_MB)
    if target_mb > validation.MAX_MEMORY_MB:
        raise exception.ToolstackError(
            call=call, reason='target above %d MiB' % validation.MAX_MEMORY_MB)


@dataclasses.dataclass(frozen=True)
class HostMemory:
    total_mb: int
    free_mb: int
    # Memory promised to domains being built (Xen claims): not usable.
    claimed_mb: int = 0

    @property
    def usable_mb(self):
        return max(0, self.free_mb - self.claimed_mb)


@dataclasses.dataclass(frozen=True)
class HostInfo:
    """The host's CPUs and Xen's version, for resource reports."""

    cpus: int
    # Nova's integer form: major * 1000000 + minor * 1000 + micro
    # (Xen 4.17.7 is 4017007).
    hypervisor_version: int
    arch: str = 'x86_64'
    cores_per_socket: int = None
    threads_per_core: int = 1


def version_int(text):
    """'4.17.7' (or '4.17', '4.17.0-rc') -> 4017007; ValueError if not."""
    match = re.match(r'^(\d{1,3})\.(\d{1,3})(?:\.(\d{1,3}))?', text or '')
    if not match:
        raise ValueError('not a version: %r' % (text,))
    major, minor, micro = (int(g or 0) for g in match.groups())
    return major * 1000000 + minor * 1000 + micro


@dataclasses.dataclass(frozen=True)
class Dom0Memory:
    current_mb: int
    target_mb: int


@dataclasses.dataclass(frozen=True)
class BalloonState:
    """dom0's Linux balloon driver as dom0 itself shows it.

    From /sys/devices/system/xen_memory/xen_memory0/ (Linux's
    drivers/xen/balloon.c) and /proc/meminfo. The driver backs off when
    it cannot allocate pages to give back: ``schedule_delay_s`` doubles
    from 1 up to ``max_schedule_delay_s`` and ``retry_count`` counts the
    failures in a row; both reset to 1 on success, and also when the
    balloon gives up after ``max_retry_count`` failures (0: never), so a
    cancelled balloon looks idle here while dom0 stays above its target.
    """

    schedule_delay_s: int
    max_schedule_delay_s: int
    retry_count: int
    max_retry_count: int
    # MemAvailable in dom0 (free + reclaimable), whole MiB; None if unknown.
    available_mb: int = None


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """One look at the host's memory, for the ledger's arithmetic."""

    host: HostMemory
    dom0: Dom0Memory
    # MiB each guest domain holds (being built or running), by name.
    domains: dict


def smaller_dom0(before, after):
    """dom0 read around another reading: the smaller size, the later target.

    What dom0 held at the other reading is at least the smaller of the
    two (it moves one way between them), so counting that one never
    counts a MiB both in dom0 and in free memory.
    """
    return Dom0Memory(current_mb=min(before.current_mb, after.current_mb),
                      target_mb=after.target_mb)


@dataclasses.dataclass(frozen=True)
class DomainSpec:
    name: str
    memory_mb: int
    vcpus: int = 1
    guest_type: str = 'pv'
    # The instance UUID kept with the domain (Nova's instance.uuid), in
    # validation.instance_uuid's canonical form; None: the domain has none.
    uuid: str = None
    # File-backed disks, in order: ({'path': absolute path, 'vdev':
    # 'xvda'...}, ...), checked by validation.disks. Empty: none.
    disks: tuple = ()
    # Network interfaces: ({'mac': 'fa:16:3e:..', 'bridge': 'br100'}, ...),
    # checked by validation.vifs. Empty: none.
    vifs: tuple = ()

    @property
    def footprint_mb(self):
        return footprint.footprint_mb(self.memory_mb, self.vcpus,
                                      self.guest_type)

    def to_dict(self):
        """Plain data, for a flow's store (logbooks hold it as JSON)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        """The spec ``to_dict`` gave, its values already checked.

        Keys this release does not know are left out, so that a spec
        stored by another release still resumes.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ('disks', 'vifs'):
            # JSON gives lists back: the spec stays hashable and equal.
            values[key] = tuple(dict(d) for d in values.get(key) or ())
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class DomainInfo:
    name: str
    domid: int
    memory_mb: int
    vcpus: int
    state: str
    # The instance UUID the domain was built with, or None.
    uuid: str = None


class Hypervisor(abc.ABC):
    """A Xen host as the driver sees it."""

    #: the clock that waits against this host must use
    clock = None
    hypervisor_type = 'xen'

    @abc.abstractmethod
    def host_memory(self):
        """Return HostMemory."""

    @abc.abstractmethod
    def host_info(self):
        """Return HostInfo: CPU count and topology, Xen's version."""

    @abc.abstractmethod
    def dom0_memory(self):
        """Return Dom0Memory: dom0's actual allocation and its target."""

    def snapshot(self):
        """Return a Snapshot: free memory, dom0, and what domains hold.

        Backends that can read all at one instant should. Otherwise the
        readings are ordered so that what moves between them can only make
        the host look fuller, never count the same MiB twice: domains being
        built only grow, so they are read first; dom0 is read before and
        after free memory and the smaller reading kept (dom0 shrinks while
        it balloons down and grows back after a revert or a destroy: either
        way the smaller one and free memory never hold the same MiB).
        """
        domains = {d.name: d.memory_mb for d in self.list_domains()}
        before = self.dom0_memory()
        host = self.host_memory()
        return Snapshot(host=host, dom0=smaller_dom0(before,
                                                     self.dom0_memory()),
                        domains=domains)

    def balloon_state(self):
        """BalloonState of dom0's balloon driver; None if not visible.

        Only a backend that runs in dom0 can see it (xl reads sysfs);
        the balloon wait then judges pauses by it, otherwise by progress
        alone.
        """
        return None

    @abc.abstractmethod
    def set_dom0_target(self, target_mb):
        """Ask dom0's balloon driver for ``target_mb``; returns at once."""

    @abc.abstractmethod
    def create_domain(self, spec):
        """Build and start a domain; block until it runs.

        Raises BuildFailed (or OutOfMemory); a partly built domain may be
        left behind for the caller to destroy.
        """

    @abc.abstractmethod
    def destroy_domain(self, name):
        """Destroy a domain; DomainNotFound when there is none."""

    @abc.abstractmethod
    def list_domains(self):
        """Return DomainInfo for every domain but dom0."""

    # -- the guest lifecycle (Nova's power calls) ---------------------------
    # Each raises DomainNotFound when there is no domain of that name, and
    # ToolstackError (the tool's message attached) when the tool fails.

    @abc.abstractmethod
    def shutdown_domain(self, name):
        """Ask the guest to shut down cleanly; returns at once.

        The guest may take its time or ignore it: the caller polls
        domain_info and destroys the domain when its patience ends. A
        domain that has shut down is gone (on_poweroff=destroy).
        """

    @abc.abstractmethod
    def pause_domain(self, name):
        """Stop scheduling the domain's vCPUs; its memory stays."""

    @abc.abstractmethod
    def unpause_domain(self, name):
        """Schedule a paused domain again."""

    @abc.abstractmethod
    def console_output(self, name):
        """The guest's console as text (its last 100 KiB at most).

        ConsoleUnavailable when the toolstack keeps no log of it.
        """

    def save_domain(self, name, path):
        """Write the domain's memory to ``path`` and destroy the domain.

        Blocks until done. Unsupported unless the backend can.
        """
        raise exception.Unsupported(what='suspend',
                                    backend=self.hypervisor_type)

    def restore_domain(self, spec, path):
        """Build ``spec``'s domain again from the memory saved at ``path``.

        Blocks until it runs; failures as create_domain's.
        """
        raise exception.Unsupported(what='resume',
                                    backend=self.hypervisor_type)

    def host_uptime(self):
        """The host's uptime as ``uptime`` prints it (Nova shows it)."""
        raise exception.Unsupported(what='host uptime',
                                    backend=self.hypervisor_type)

    def domain_info(self, name):
        for info in self.list_domains():
            if info.name == name:
                return info
        raise exception.DomainNotFound(name=name)
