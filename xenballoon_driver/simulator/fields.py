"""A scenario section's fields, and how a YAML mapping is checked.

Each field of a section's dataclass says its default, kind and range in
its metadata (``field``); ``convert`` checks a mapping against them with
the field's name in every error, so a malformed file fails before
anything runs.
"""

import dataclasses
import math

from xenballoon_driver import exception
from xenballoon_driver import validation


def field(default, lo=None, hi=None, kind=float, optional=False):
    """A section field: a number of ``kind`` in lo..hi, or text (str).

    kind=dict: a mapping of domain names to numbers in lo..hi;
    kind=list: a list of domain names (kept as a sorted list).
    """
    return dataclasses.field(default=default, metadata={
        'lo': lo, 'hi': hi, 'kind': kind, 'optional': optional})


def invalid(path, reason):
    return exception.InvalidScenario(path=path, reason=reason)


def check_name(name, label, path):
    try:
        validation.domain_name(name)
    except exception.InvalidInput as err:
        raise invalid(path, '%s: %s' % (label, err.reason))


def _number(value, label, meta, kind, path):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok and kind is int and isinstance(value, float):
        ok = value.is_integer()
    if not ok or not math.isfinite(value):
        raise invalid(path, '%s must be a%s number, not %r' % (
            label, ' whole' if kind is int else '', value))
    value = kind(value)
    lo, hi = meta['lo'], meta['hi']
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise invalid(path, '%s = %s is outside %s..%s' % (
            label, value, lo, hi))
    return value


def _value(value, label, meta, path):
    kind = meta['kind']
    if kind is str:
        if not isinstance(value, str):
            raise invalid(path, '%s must be text, not %r' % (label, value))
        return value
    if kind is list:
        if not isinstance(value, (list, tuple)):
            raise invalid(path, '%s must be a list of domain names' % label)
        for name in value:
            check_name(name, '%s item' % label, path)
        return sorted(set(value))
    if kind is dict:
        if not isinstance(value, dict):
            raise invalid(path, '%s must be a mapping of domain names' %
                          label)
        out = {}
        for name, number in value.items():
            check_name(name, '%s key' % label, path)
            out[name] = _number(number, '%s.%s' % (label, name), meta,
                                float, path)
        return out
    return _number(value, label, meta, kind, path)


def convert(cls, data, where, path):
    """An instance of the section dataclass ``cls`` from a YAML mapping."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise invalid(path, '%s must be a mapping' % where)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(map(str, data)) - set(fields))
    if unknown:
        raise invalid(path, '%s: unknown field(s) %s; known: %s' % (
            where, ', '.join(map(str, unknown)), ', '.join(fields)))
    values = {}
    for name, spec in fields.items():
        value = data.get(name, spec.default)
        label = '%s.%s' % (where, name)
        if value is None:
            if spec.metadata['optional']:
                values[name] = None
                continue
            raise invalid(path, '%s is required' % label)
        values[name] = _value(value, label, spec.metadata, path)
    return cls(**values)
