"""What a domain takes from Xen: memory plus libxl's overhead."""

import pytest

from xenballoon_driver.hypervisor import footprint


@pytest.mark.parametrize('memory_mb,vcpus', [
    (1, 1), (1024, 1), (4096, 64), (163840, 16)])
def test_pv_adds_2_mib(memory_mb, vcpus):
    # libxl's 1 MiB (LIBXL_MAXMEM_CONSTANT), rounded up to 2 MiB.
    assert footprint.overhead_mb(memory_mb, vcpus, 'pv') == 2
    assert footprint.footprint_mb(memory_mb, vcpus, 'pv') == memory_mb + 2


def test_pv_is_the_default():
    assert footprint.footprint_mb(4096) == 4098
    assert footprint.overhead_mb(4096) == 2


@pytest.mark.parametrize('memory_mb,vcpus,guest_type,expected', [
    # 2048 + 4 * (256 + 2048) = 11264 KiB = 5.5 x 2 MiB -> 12 MiB
    (1024, 1, 'hvm', 1036),
    # 2048 + 4 * (512 + 2048) = 12288 KiB = exactly 6 x 2 MiB -> 12 MiB
    (1024, 2, 'hvm', 1036),
    # 2048 + 4 * (256 + 2000) = 11072 KiB = 5.4 x 2 MiB -> 12 MiB
    (1000, 1, 'pvh', 1012),
    # 2048 + 4 * (256 + 8192) = 35840 KiB = 17.5 x 2 MiB -> 36 MiB
    (4096, 1, 'hvm', 4132),
    # 2048 + 4 * (1024 + 8192) = 38912 KiB = exactly 19 x 2 MiB -> 38 MiB
    (4096, 4, 'pvh', 4134),
    # 2048 + 4 * (4096 + 327680) = 1329152 KiB = exactly 649 x 2 MiB
    (163840, 16, 'hvm', 163840 + 1298),
    # 2048 + 4 * (256 + 2) = 3080 KiB = 1.5 x 2 MiB -> 4 MiB
    (1, 1, 'hvm', 5),
])
def test_hvm_and_pvh_figures(memory_mb, vcpus, guest_type, expected):
    assert footprint.footprint_mb(memory_mb, vcpus, guest_type) == expected


def test_shadow_kib():
    assert footprint.shadow_kib(1024, 2) == 4 * (512 + 2048)
    assert footprint.shadow_kib(163840, 16) == 1327104


@pytest.mark.parametrize('guest_type', ['hvm', 'pvh'])
def test_hvm_overhead_is_rounded_up_never_down(guest_type):
    for memory_mb in range(1, 5000, 37):
        for vcpus in (1, 3, 8):
            kib = 2048 + 4 * (256 * vcpus + 2 * memory_mb)
            mb = footprint.overhead_mb(memory_mb, vcpus, guest_type)
            assert mb % 2 == 0
            assert kib <= mb * 1024 < kib + 2048


def test_hvm_and_pvh_have_the_same_overhead():
    assert (footprint.overhead_mb(8192, 4, 'hvm') ==
            footprint.overhead_mb(8192, 4, 'pvh'))


@pytest.mark.parametrize('guest_type', ['kvm', 'PV', '', None])
def test_unknown_guest_type_raises(guest_type):
    with pytest.raises(ValueError) as err:
        footprint.footprint_mb(1024, 1, guest_type)
    assert str(err.value) == 'unknown guest type %r' % (guest_type,)
