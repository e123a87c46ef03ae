"""Memory unit conversions: each rounds the way its name says."""

from xenballoon_driver import units


def test_unit_conversions_are_exact():
    # Moved from test_libvirt_backend (libvirt's bytes and KiB).
    assert units.bytes_to_mib_floor(3 * 1024 * 1024) == 3
    assert units.bytes_to_mib_floor(3 * 1024 * 1024 - 1) == 2
    assert units.kib_to_mib_ceil(2048) == 2
    assert units.kib_to_mib_ceil(2049) == 3
    assert units.kib_to_mib_ceil(16 * 2 ** 30) == 16 * 2 ** 20


def test_kib_rounding_directions():
    assert units.kib_to_mib_floor(2047) == 1
    assert units.kib_to_mib_floor(2048) == 2
    assert units.kib_to_mib_ceil(1) == 1
    assert units.kib_to_mib_ceil(0) == 0
    # xl list -l's dom0 target, one KiB short (see xl_parse).
    assert units.kib_to_mib_ceil(1572863) == 1536


def test_mib_to_kib_and_round_up():
    assert units.mib_to_kib(1536) == 1572864
    assert units.round_up(1, 2) == 2
    assert units.round_up(2, 2) == 2
    assert units.round_up(0, 2) == 0
