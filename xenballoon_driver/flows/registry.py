"""Flow factories by name: any stored flow is rebuilt from its record alone.

A flow's record (its taskflow flow detail) holds, from the moment it is
first saved, its inputs and ``meta``:

    {'factory': NAME, 'args': {...plain data...}, 'host': HOST}

so that recovery, or a conductor in another process, rebuilds the same
flow with ``rebuild(driver, detail)``: no live object, no if-chain. The
live parts (backend, ledger, options) come from the driver of the process
that rebuilds it, which must be the owning host's.
"""

from taskflow import exceptions as tf_exceptions
from taskflow import storage as tf_storage

from xenballoon_driver import exception
from xenballoon_driver.flows import destroy
from xenballoon_driver.flows import power_off
from xenballoon_driver.flows import power_on
from xenballoon_driver.flows import reboot
from xenballoon_driver.flows import spawn

INJECTOR = tf_storage.Storage.injector_name


def _spawn(driver, recovering=False, cancel=None):
    return spawn.get_flow(driver.backend, driver.ledger,
                          driver.conf.xenballoon, recovering=recovering,
                          cancel=cancel)


def _destroy(driver, reinflate, recovering=False):
    return destroy.get_flow(driver.backend, driver.ledger, reinflate)


def _power_off(driver, recovering=False):
    return power_off.get_flow(driver.backend, driver.ledger,
                              driver.conf.xenballoon, recovering)


def _power_on(driver, recovering=False):
    return power_on.get_flow(driver.backend, driver.ledger,
                             driver.conf.xenballoon, recovering)


def _reboot(driver, recovering=False):
    return reboot.get_flow(driver.backend, driver.ledger,
                           driver.conf.xenballoon, recovering)


# Names are stored in every flow record: never rename one.
FACTORIES = {
    spawn.FLOW_NAME: _spawn,
    destroy.FLOW_NAME: _destroy,
    power_off.FLOW_NAME: _power_off,
    power_on.FLOW_NAME: _power_on,
    reboot.FLOW_NAME: _reboot,
}


def meta(factory, host, **args):
    """What a new flow record stores about how to rebuild it."""
    if factory not in FACTORIES:
        raise KeyError(factory)
    return {'factory': factory, 'args': args, 'host': host}


def build(driver, factory, **args):
    """A new flow of ``factory`` for this driver.

    Live arguments (a spawn's ``cancel`` event) are given here and never
    to meta(): a rebuilt flow has none.
    """
    return FACTORIES[factory](driver, **args)


def owner(detail):
    """The host that owns a stored flow; None if the record names none."""
    return (detail.meta or {}).get('host')


def inputs(detail):
    """The inputs stored with a flow, or {} if there are none."""
    for atom in detail:
        if atom.name == INJECTOR:
            return dict(atom.results or {})
    return {}


def rebuild(driver, detail):
    """The flow a stored record describes, to be resumed by recovery.

    Raises Unrebuildable when the record cannot say what to run: no
    factory (an older release's record), an unknown one, arguments that
    do not fit it, or inputs missing.
    """
    record = detail.meta or {}
    name = record.get('factory')
    if name is None:
        raise exception.Unrebuildable(flow_id=detail.uuid,
                                      reason='it records no flow factory')
    factory = FACTORIES.get(name)
    if factory is None:
        raise exception.Unrebuildable(
            flow_id=detail.uuid, reason='unknown flow factory %r' % name)
    args = record.get('args') or {}
    if not isinstance(args, dict):
        raise exception.Unrebuildable(
            flow_id=detail.uuid, reason='its factory arguments are damaged')
    try:
        flow = factory(driver, recovering=True, **args)
    except (TypeError, tf_exceptions.TaskFlowException) as err:
        raise exception.Unrebuildable(
            flow_id=detail.uuid,
            reason='factory %s cannot take %r: %s' % (name, args, err))
    missing = sorted(set(flow.requires) - set(inputs(detail)))
    if missing:
        raise exception.Unrebuildable(
            flow_id=detail.uuid,
            reason='its inputs are missing (%s)' % ', '.join(missing))
    return flow
