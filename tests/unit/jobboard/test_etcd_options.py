"""[jobboard] backend = etcd: its URL checked at start-up, no server."""

import subprocess
import sys

import pytest

from xenballoon_driver import conf as conf_mod
from xenballoon_driver.conf import jobboard
from xenballoon_driver import exception
from xenballoon_driver.jobboard import board as board_mod


@pytest.mark.parametrize('url, parsed, where', [
    ('etcd://127.0.0.1', ('http', '127.0.0.1', 2379),
     'http://127.0.0.1:2379'),
    ('etcd://etcd.example:4001/', ('http', 'etcd.example', 4001),
     'http://etcd.example:4001'),
    ('http://10.0.0.1:2379', ('http', '10.0.0.1', 2379),
     'http://10.0.0.1:2379'),
    ('https://etcd.example', ('https', 'etcd.example', 2379),
     'https://etcd.example:2379'),
])
def test_good_urls(conf, url, parsed, where):
    assert jobboard.check_url(url, 'etcd') == parsed
    conf.flags('jobboard', backend='etcd', url=url)
    conf_mod.validate(conf)
    assert board_mod.where(conf) == where


@pytest.mark.parametrize('url, words', [
    # The default URL is Redis's: etcd wants its own.
    ('redis://127.0.0.1:6379', 'not an etcd URL (backend etcd)'),
    ('etcd://127.0.0.1:99999', 'port'),
    ('etcd://:2379', 'names no host'),
    ('etcd://user:pw@127.0.0.1', 'no user or password'),
    ('http://127.0.0.1:2379/v3', 'no path, query or fragment'),
    ('etcd://127.0.0.1?x=1', 'no path, query or fragment'),
])
def test_bad_url_is_refused_naming_the_option(conf, url, words):
    conf.flags('jobboard', backend='etcd', url=url)
    with pytest.raises(exception.InvalidConfig) as err:
        conf_mod.validate(conf)
    assert '[jobboard] url' in str(err.value) and words in str(err.value)


def test_an_etcd_url_is_not_a_redis_one(conf):
    conf.flags('jobboard', url='etcd://127.0.0.1')
    with pytest.raises(exception.InvalidConfig) as err:
        conf_mod.validate(conf)
    assert 'not a redis:// URL' in str(err.value)


def test_an_unknown_backend_is_refused(conf):
    with pytest.raises(ValueError):
        conf.flags('jobboard', backend='zookeeper')


def test_no_board_client_is_imported_until_a_board_is_made():
    # What every CLI command pays: neither etcd3gw (~0.1 s) nor redis-py.
    code = ('import sys; from xenballoon_driver.cmd import shell; '
            'from xenballoon_driver.jobboard import board; '
            'print(sorted({"etcd3gw", "redis"} & set(sys.modules)))')
    out = subprocess.run([sys.executable, '-c', code], check=True,
                         capture_output=True, text=True).stdout
    assert out.strip() == '[]'
