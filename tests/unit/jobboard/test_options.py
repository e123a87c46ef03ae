"""[jobboard] options: bad values refused at start-up, with the option."""

import pytest

from xenballoon_driver import conf as conf_mod
from xenballoon_driver.conf import jobboard
from xenballoon_driver import exception


def test_defaults_leave_everything_as_it_was(conf):
    assert conf.jobboard.enabled is False
    conf_mod.validate(conf)


@pytest.mark.parametrize('url, parsed', [
    ('redis://127.0.0.1:6379', ('127.0.0.1', 6379, 0, None)),
    ('redis://redis.example:6380/3', ('redis.example', 6380, 3, None)),
    ('redis://:s3cret@10.0.0.1', ('10.0.0.1', 6379, 0, 's3cret')),
])
def test_good_urls(url, parsed):
    assert jobboard.check_url(url) == parsed


@pytest.mark.parametrize('url, words', [
    ('http://127.0.0.1:6379', 'not a redis:// URL'),
    ('redis://127.0.0.1:99999', 'port'),
    ('redis://:6379', 'names no host'),
    ('redis://127.0.0.1/zero', 'database must be a number'),
    ('redis://127.0.0.1/0?x=1', 'no query'),
])
def test_bad_url_is_refused_naming_the_option(conf, url, words):
    conf.flags('jobboard', url=url)
    with pytest.raises(exception.InvalidConfig) as err:
        conf_mod.validate(conf)
    assert '[jobboard] url' in str(err.value) and words in str(err.value)


@pytest.mark.parametrize('name', ['xenballoon', '{host}-{host}',
                                  'a b-{host}', 'x/{host}'])
def test_board_name_must_name_one_board_per_host(conf, name):
    conf.flags('jobboard', board_name=name)
    with pytest.raises(exception.InvalidConfig) as err:
        conf_mod.validate(conf)
    assert '[jobboard] board_name' in str(err.value)


def test_claim_expiry_has_bounds(conf):
    with pytest.raises(ValueError):
        conf.flags('jobboard', claim_expiry_s=0)
