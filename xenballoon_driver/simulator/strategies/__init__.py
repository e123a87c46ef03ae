"""Balloon strategies, for comparing ours with the toolstacks' own.

``progress`` is the driver itself. The others reproduce, for comparison
only, how xl and libvirt waited for dom0 (see baselines.py); they never
become the driver's default.
"""

from stevedore import driver as stevedore_driver
from stevedore import exception as stevedore_exception
from stevedore import extension

from xenballoon_driver import exception

NAMESPACE = 'xenballoon_driver.strategies'
OURS = 'progress'


def available():
    names = sorted(extension.ExtensionManager(NAMESPACE).names())
    # Ours first, the anchors after it.
    return [OURS] + [n for n in names if n != OURS]


def load(name, conf, driver):
    """Strategy ``name`` spawning on the simulated host of ``driver``."""
    try:
        manager = stevedore_driver.DriverManager(
            NAMESPACE, name, invoke_on_load=True,
            invoke_args=(conf, driver))
    except stevedore_exception.NoMatches:
        raise exception.StrategyNotFound(name=name,
                                         available=', '.join(available()))
    return manager.driver
