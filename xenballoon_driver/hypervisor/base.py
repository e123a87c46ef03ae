"""The backend contract: what the driver needs from a Xen toolstack.

All memory is whole MiB; each backend converts its tool's KiB or pages
exactly at this boundary, and turns its tool's failures into the
project's exceptions with the tool's message attached.
"""

import abc
import dataclasses

from xenballoon_driver.balloon import footprint


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
class Dom0Memory:
    current_mb: int
    target_mb: int


@dataclasses.dataclass(frozen=True)
class DomainSpec:
    name: str
    memory_mb: int
    vcpus: int = 1
    guest_type: str = 'pv'
    # Simulator only: make this build fail at a fraction of its memory.
    fail_at_fraction: float = None

    @property
    def footprint_mb(self):
        return footprint.footprint_mb(self.memory_mb, self.vcpus,
                                      self.guest_type)


@dataclasses.dataclass(frozen=True)
class DomainInfo:
    name: str
    domid: int
    memory_mb: int
    vcpus: int
    state: str


class Hypervisor(abc.ABC):
    """A Xen host as the driver sees it."""

    #: the clock that waits against this host must use
    clock = None
    hypervisor_type = 'xen'

    @abc.abstractmethod
    def host_memory(self):
        """Return HostMemory."""

    @abc.abstractmethod
    def dom0_memory(self):
        """Return Dom0Memory: dom0's actual allocation and its target."""

    def memory(self):
        """Return (HostMemory, Dom0Memory) as one look at the host.

        Backends that can read both at one instant should. Otherwise free
        memory is read first: while dom0 balloons down, memory moves from
        dom0 to free, so a later dom0 reading can only make free + dom0
        look smaller (never count the same MiB twice).
        """
        host = self.host_memory()
        return host, self.dom0_memory()

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

    def domain_info(self, name):
        from xenballoon_driver import exception
        for info in self.list_domains():
            if info.name == name:
                return info
        raise exception.DomainNotFound(name=name)
