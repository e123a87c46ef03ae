"""xenballoon-driver as a Nova compute driver.

In nova.conf::

    [DEFAULT]
    compute_driver = xenballoon.XenBalloonComputeDriver

Nova 34 loads a compute driver only as ``nova.virt.<compute_driver>``, so
this package lives in Nova's ``nova.virt`` namespace. ``nova`` and
``nova.virt`` have no ``__init__.py`` in this project's tree: installed
beside Nova, these files join Nova's own packages; without Nova, nothing
imports them.
"""

from nova.virt.xenballoon import driver

XenBalloonComputeDriver = driver.XenBalloonComputeDriver

__all__ = ['XenBalloonComputeDriver']
