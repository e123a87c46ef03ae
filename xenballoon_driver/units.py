"""Memory units: the project counts whole MiB, toolstacks KiB or bytes.

Built on oslo_utils.units (Ki, Mi, Gi). Each conversion names its
rounding, because the direction matters: a figure a domain holds, or a
target, rounds up so that we never report less than Xen does; free
memory and what dom0 holds now round down so that we never count a
MiB that is not there.
"""

import math

from oslo_utils import units

Ki = units.Ki
Mi = units.Mi
Gi = units.Gi


def round_up(value, step):
    """``value`` rounded up to a multiple of ``step`` (both ints)."""
    return -(-value // step) * step


def kib_to_mib_ceil(kib):
    return -(-int(kib) // Ki)


def kib_to_mib_floor(kib):
    return int(kib) // Ki


def bytes_to_mib_floor(nbytes):
    return int(nbytes) // Mi


def mib_to_kib(mib):
    return mib * Ki


# A model's MiB are floats: a sum that should be whole may miss by a
# rounding error, which must not cost (or give) a whole MiB.
_EPSILON_MIB = 1e-6


def mib_floor(mib):
    """Fractional MiB (a model's) down to whole MiB."""
    return int(math.floor(mib + _EPSILON_MIB))


def mib_ceil(mib):
    """Fractional MiB (a model's) up to whole MiB."""
    return int(math.ceil(mib - _EPSILON_MIB))
