"""What a task that acts on the host holds: its backend and the ledger."""

from taskflow import task

from xenballoon_driver import exception


class HostTask(task.Task):
    """A task of a flow on this host (spawn, destroy).

    The flow module declares what it requires and provides; the task
    only names the same values as its execute/revert arguments.
    """

    def __init__(self, backend, ledger, **kwargs):
        super().__init__(**kwargs)
        self.backend = backend
        self.ledger = ledger

    def existing(self, name):
        """The domain ``name``'s DomainInfo, or None if there is none."""
        try:
            return self.backend.domain_info(name)
        except exception.DomainNotFound:
            return None
