"""Our errors as Nova's, and our domain states as Nova's power states."""

import contextlib

from nova.compute import power_state
from nova import exception as nova_exc

from xenballoon_driver import exception as xb_exc

# Our guests' states (xl, libvirt, the simulator; list_guests' 'shutoff'
# and 'suspended' for a stopped or suspended guest) -> Nova's.
POWER_STATES = {
    'running': power_state.RUNNING,
    'blocked': power_state.RUNNING,
    'paused': power_state.PAUSED,
    'shutdown': power_state.SHUTDOWN,
    'shutoff': power_state.SHUTDOWN,
    'dying': power_state.SHUTDOWN,
    'crashed': power_state.CRASHED,
    'suspended': power_state.SUSPENDED,
    'pmsuspended': power_state.SUSPENDED,
    'building': power_state.NOSTATE,
}

# The host has no room for the guest: Nova reschedules to another host.
NO_ROOM = (xb_exc.NotEnoughMemory, xb_exc.OutOfMemory,
           xb_exc.BalloonStalled)


@contextlib.contextmanager
def nova_errors(instance, failure):
    """Raise our errors as Nova's; ``failure`` for the ones Nova lacks.

    A call the backend cannot do at all (Unsupported) is Nova's
    NotImplementedError: the compute manager then puts the instance back
    as it was, the request's error in its action.
    """
    try:
        yield
    except xb_exc.InvalidInput as err:
        raise nova_exc.InvalidInput(reason=err.message) from err
    except NO_ROOM as err:
        raise nova_exc.ComputeResourcesUnavailable(
            reason=err.message) from err
    except xb_exc.DomainExists as err:
        raise nova_exc.InstanceExists(name=instance.name) from err
    except xb_exc.DomainNotFound as err:
        raise nova_exc.InstanceNotFound(instance_id=instance.uuid) from err
    except xb_exc.ConsoleUnavailable as err:
        raise nova_exc.ConsoleNotAvailable() from err
    except xb_exc.Unsupported as err:
        raise NotImplementedError(err.message) from err
    except xb_exc.XenBalloonException as err:
        raise failure(reason=err.message) from err
