"""Number options that take ASCII digits and finite values only.

oslo.config reads a FloatOpt with float() and an IntOpt with int(), and
checks min/max with comparisons. Python's float() reads "nan" and "inf",
and a NaN passes every comparison, so ``stall_timeout = nan`` would turn
stall detection off; int() and float() also read Unicode digits ("١٠٢٤")
and "1_000". Every number option of ours is built here, so the rule holds
in one place.
"""

import math
import re

from oslo_config import cfg
from oslo_config import types

INT_RE = re.compile(r'[+-]?[0-9]+')
FLOAT_RE = re.compile(r'[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?')


def _text(value):
    # An empty value would read as None (oslo's "unset"), and the option's
    # user would then fail far from the file: refuse it here.
    text = str(value).strip()
    if not text:
        raise ValueError('empty value: give a number or remove the line')
    return text


class AsciiInteger(types.Integer):
    """types.Integer that refuses anything but [+-] and ASCII digits."""

    def __call__(self, value):
        if not isinstance(value, int):
            text = _text(value)
            if not INT_RE.fullmatch(text):
                raise ValueError('%r is not a whole number in ASCII digits'
                                 % text)
            value = int(text)
        return super().__call__(value)


class FiniteFloat(types.Float):
    """types.Float that refuses nan, inf and non-ASCII digits."""

    def __call__(self, value):
        if not isinstance(value, float):
            text = _text(value)
            if not FLOAT_RE.fullmatch(text):
                raise ValueError('%r is not a finite decimal number in '
                                 'ASCII digits' % text)
            value = float(text)
        if not math.isfinite(value):
            raise ValueError('%r is not a finite number' % value)
        return super().__call__(value)


class IntOpt(cfg.IntOpt):
    def __init__(self, name, min=None, max=None, **kwargs):
        super().__init__(name, min=min, max=max, **kwargs)
        self.type = AsciiInteger(min=min, max=max)


class FloatOpt(cfg.FloatOpt):
    def __init__(self, name, min=None, max=None, **kwargs):
        super().__init__(name, min=min, max=max, **kwargs)
        self.type = FiniteFloat(min=min, max=max)
