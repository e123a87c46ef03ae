"""Fixtures for the functional tests: one simulated host per test."""

import pytest

from tests.functional import base


@pytest.fixture
def make_host(tmp_path):
    """Factory: ``make_host(scenario=None, time_scale=..., **options)``."""
    return base.HostFactory(tmp_path)


@pytest.fixture
def default_host(make_host):
    """A fresh host running the shipped default scenario."""
    return make_host()
