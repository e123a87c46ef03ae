"""This compute host's name: the key of its ledger and of its flows.

It must not change while the host has guests: a ledger kept under an old
name would make every running guest an "unknown-domain". So the name is
either set by the operator ([xenballoon] host) or taken from the machine's
hostname once, stored in ``<state_dir>/host-id``, and read back from there
on every later start: renaming the machine changes nothing.
"""

import os
import socket

from xenballoon_driver import exception

FILENAME = 'host-id'
MAX_LEN = 255


def problem(name):
    """Why ``name`` cannot be a host name, or None if it can."""
    if not name:
        return 'it is empty'
    if len(name) > MAX_LEN:
        return '%d characters, at most %d allowed' % (len(name), MAX_LEN)
    if not name.isprintable():
        bad = next(c for c in name if not c.isprintable())
        return '%r holds the control character %r' % (name, bad)
    if name != name.strip():
        return '%r starts or ends with white space' % name
    return None


def path(conf):
    return os.path.join(os.path.expanduser(conf.xenballoon.state_dir),
                        FILENAME)


def resolve(conf):
    """The host's name: the option if set, else the stored one."""
    name = conf.xenballoon.host
    if name:
        reason = problem(name)
        if reason:
            raise exception.InvalidConfig(option='[xenballoon] host',
                                          reason=reason)
        return name
    stored = path(conf)
    if not os.path.exists(stored):
        _store(stored)
    return _read(stored)


def stored(conf):
    """The name an earlier start kept in ``<state_dir>/host-id``, or None.

    StorageError if the file holds no name.
    """
    where = path(conf)
    return _read(where) if os.path.exists(where) else None


def _store(stored):
    name = socket.gethostname()
    reason = problem(name)
    if reason:
        raise exception.InvalidConfig(
            option='[xenballoon] host',
            reason='it is not set and this machine\'s hostname cannot '
                   'stand in for it: %s; set it in the config file' % reason)
    os.makedirs(os.path.dirname(stored), exist_ok=True)
    tmp = '%s.%d.tmp' % (stored, os.getpid())
    try:
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(name + '\n')
            f.flush()
            os.fsync(f.fileno())
        try:
            # link() never replaces: when two first starts race, the
            # first name stored is the one both read back.
            os.link(tmp, stored)
        except FileExistsError:
            pass
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def _read(stored):
    try:
        with open(stored, 'rb') as f:
            data = f.read(MAX_LEN * 4 + 2)
        name = data.decode('utf-8')
    except UnicodeDecodeError:
        name = None
    if name is not None and name.endswith('\n'):
        name = name[:-1]
    reason = 'it is not UTF-8 text' if name is None else problem(name)
    if reason:
        raise exception.StorageError(
            what=stored, reason='it does not hold a host name: %s' % reason,
            hint='write this host\'s name into it (the name its ledger '
                 'was kept under), or set [xenballoon] host')
    return name
