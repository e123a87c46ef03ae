"""Fixtures for the functional tests: one simulated host per test."""

import pytest

from tests import conftest as top
from tests.functional import base
from tests.functional import jobboard_harness as jh


@pytest.fixture
def make_host(tmp_path):
    """Factory: ``make_host(scenario=None, time_scale=..., **options)``."""
    return base.HostFactory(tmp_path)


@pytest.fixture
def default_host(make_host):
    """A fresh host running the shipped default scenario."""
    return make_host()


# The jobboard tests' servers: a scratch PostgreSQL database per module
# (their hosts' shared flow database), and the machine's Redis.
@pytest.fixture(scope='module')
def pg_url():
    with top.scratch_database('postgresql') as url:
        yield url


@pytest.fixture
def redis_url():
    problem = jh.redis_problem()
    if problem:
        if top.require_services():
            pytest.fail('XENBALLOON_REQUIRE_SERVICES=1 but ' + problem)
        pytest.skip(problem)
    return jh.REDIS_URL
