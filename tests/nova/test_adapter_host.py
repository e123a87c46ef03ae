"""The host as Nova sees it: its name, traits and reserved memory."""

import logging
import os

import pytest

pytest.importorskip('nova.virt.driver')

from nova import exception as nova_exc  # noqa: E402

from nova.virt.xenballoon import host as host_mod  # noqa: E402
from tests.nova import conftest  # noqa: E402
from tests.nova import test_compute_driver as helpers  # noqa: E402
from xenballoon_driver import host_identity  # noqa: E402

GiB = helpers.GiB


def test_ledger_kept_under_nova_host(compute, nova_conf):
    nova_conf.set_override('host', 'nova-compute-7')
    host = compute()
    assert host.driver.driver.host == 'nova-compute-7'
    helpers.spawn(host, helpers.make_instance(GiB))
    # The ledger's document and the flows belong to that name.
    assert list(host.ledger.entries())
    assert host.ledger.storage.host == 'nova-compute-7'
    assert {row.host for row in host.driver.driver.list_flows()} == {
        'nova-compute-7'}
    # No machine hostname stored for a later start to read instead.
    assert not os.path.exists(host_identity.path(nova_conf))


def test_xenballoon_host_wins(compute, nova_conf):
    nova_conf.set_override('host', 'nova-name')
    nova_conf.set_override('host', 'ledger-name', group='xenballoon')
    assert compute().driver.driver.host == 'ledger-name'


def test_a_different_stored_name_is_refused(compute, nova_conf, tmp_path):
    stored = host_identity.path(nova_conf)
    (tmp_path / 'state').mkdir()
    with open(stored, 'w') as f:
        f.write('old-hostname\n')
    with pytest.raises(nova_exc.InvalidConfiguration,
                       match="set \\[xenballoon\\] host = old-hostname"):
        compute()
    # As it says: the ledger's name kept.
    nova_conf.set_override('host', 'old-hostname', group='xenballoon')
    assert compute().driver.driver.host == 'old-hostname'


def test_same_stored_name_is_fine(compute, nova_conf, tmp_path):
    (tmp_path / 'state').mkdir()
    with open(host_identity.path(nova_conf), 'w') as f:
        f.write(conftest.NODE + '\n')
    assert compute().driver.driver.host == conftest.NODE


def test_reserved_host_memory_short_of_dom0_floor_is_said(compute,
                                                          nova_conf,
                                                          caplog):
    caplog.set_level(logging.WARNING, logger='nova.virt.xenballoon.host')
    host = compute()  # Nova's default: 512 MiB
    floor = host.ledger.dom0_min_mb
    assert any('Set it to %d' % floor in r.getMessage()
               for r in caplog.records)
    caplog.clear()
    nova_conf.set_override('reserved_host_memory_mb', floor)
    assert host_mod.check_reserved_memory(
        host.driver.driver.get_available_resource()) == floor
    assert not caplog.records


def test_traits_name_only_real_architectures():
    assert host_mod.traits('x86_64') == {
        'COMPUTE_ARCH_X86_64', 'COMPUTE_NET_VIF_MODEL_NETFRONT',
        'COMPUTE_STORAGE_BUS_XEN'}
    assert 'COMPUTE_ARCH_AARCH64' in host_mod.traits('aarch64')
    assert host_mod.traits('pdp11') == set(host_mod.STATIC_TRAITS)
