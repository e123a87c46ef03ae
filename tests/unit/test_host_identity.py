"""The host's name: the option, or the hostname stored once."""

import os
import socket

import pytest

from xenballoon_driver import exception
from xenballoon_driver import host_identity


def test_the_option_wins_and_nothing_is_written(conf):
    conf.flags('xenballoon', host='compute-7')
    assert host_identity.resolve(conf) == 'compute-7'
    assert not os.path.exists(host_identity.path(conf))


def test_hostname_is_stored_once_and_survives_a_rename(conf, monkeypatch):
    monkeypatch.setattr(socket, 'gethostname', lambda: 'old-name')
    assert host_identity.resolve(conf) == 'old-name'
    with open(host_identity.path(conf)) as f:
        assert f.read() == 'old-name\n'
    monkeypatch.setattr(socket, 'gethostname', lambda: 'new-name')
    assert host_identity.resolve(conf) == 'old-name'


def test_stored_reads_the_kept_name_without_writing_one(conf, monkeypatch):
    assert host_identity.stored(conf) is None
    assert not os.path.exists(host_identity.path(conf))
    monkeypatch.setattr(socket, 'gethostname', lambda: 'kept')
    host_identity.resolve(conf)
    assert host_identity.stored(conf) == 'kept'
    with open(host_identity.path(conf), 'wb') as f:
        f.write(b'\xff\n')
    with pytest.raises(exception.StorageError, match='not UTF-8'):
        host_identity.stored(conf)


def test_a_racing_first_start_keeps_the_first_name(
        conf, monkeypatch, tmp_path):
    path = host_identity.path(conf)
    monkeypatch.setattr(socket, 'gethostname', lambda: 'second')
    real_link = host_identity.os.link

    def link_after_another(src, dst):
        with open(dst, 'w') as f:   # the other process won
            f.write('first\n')
        return real_link(src, dst)

    monkeypatch.setattr(host_identity.os, 'link', link_after_another)
    assert host_identity.resolve(conf) == 'first'
    assert sorted(p.name for p in (tmp_path / 'state').iterdir()) == [
        host_identity.FILENAME]
    assert path.endswith(host_identity.FILENAME)


@pytest.mark.parametrize('name,says', [
    ('a\x00b', "control character '\\x00'"),
    ('a\nb', "control character '\\n'"),
    ('a\x1b[0m', "control character '\\x1b'"),
    (' lead', 'white space'),
    ('trail ', 'white space'),
    ('x' * 256, '256 characters, at most 255'),
])
def test_bad_option_values_are_refused(conf, name, says):
    conf.flags('xenballoon', host=name)
    with pytest.raises(exception.InvalidConfig) as err:
        host_identity.resolve(conf)
    assert '[xenballoon] host' in str(err.value)
    assert says in str(err.value)


def test_a_bad_hostname_is_not_stored(conf, monkeypatch):
    monkeypatch.setattr(socket, 'gethostname', lambda: 'bad\x00host')
    with pytest.raises(exception.InvalidConfig, match='set it in the '
                                                      'config file'):
        host_identity.resolve(conf)
    assert not os.path.exists(host_identity.path(conf))


@pytest.mark.parametrize('data', [b'', b'\n', b'\xff\xfe\n', b'a\x00b\n',
                                  b' x\n'])
def test_a_damaged_host_id_file_is_named(conf, data):
    path = host_identity.path(conf)
    os.makedirs(os.path.dirname(path))
    with open(path, 'wb') as f:
        f.write(data)
    with pytest.raises(exception.StorageError) as err:
        host_identity.resolve(conf)
    assert path in str(err.value)
    assert err.value.exit_code == exception.EXIT_STORAGE
