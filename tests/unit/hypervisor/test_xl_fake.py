"""The fake xl prints what real xl 4.17.7 printed (the captures)."""

import re
import subprocess

import pytest

from tests.fake_xl import harness
from tests.fake_xl import render
from tests.unit.hypervisor.test_xl_parse import capture

GUEST_UUID = '70082616-ffe1-4538-9300-c98504db0954'


def _time_free(text):
    """xl list with the Time(s) column blanked: CPU time never repeats.

    Its padding too: on a busy machine the fake's CPU time (real time
    scaled) can reach another digit.
    """
    return re.sub(r' +\d+\.\d$', ' T', text, flags=re.M)


# -- the formats, byte for byte ------------------------------------------


def test_info_matches_capture():
    assert render.info(2047, 488, 0) == capture('a001_xl_info')
    # Another boot: only the measured CPU clock differs.
    assert render.info(2047, 524, 0, replace={'cpu_mhz': '2299.999'}) == (
        capture('d007_xl_info_with_bigok'))


def test_list_matches_capture():
    assert render.list_table([('Domain-0', 0, 1536, 2, 'r-----', 12.7)]) == (
        capture('a003_xl_list'))
    assert render.list_table([
        ('Domain-0', 0, 1024, 2, 'r-----', 164.2),
        ('g1', 1, 64, 1, '------', 43.4), ('g2', 3, 128, 1, 'r-----', 33.8),
        ('12345', 10, 64, 1, '------', 15.2),
        ('gp', 13, 64, 1, '--p---', 0.0)]) == capture(
            'a110_xl_list_with_paused')


def test_list_long_matches_capture():
    assert render.list_long([render.dom0_entry(1835008, 1572863)]) == (
        capture('a005_xl_list_l_0'))
    guest = render.guest_entry(1, 'g1', 'pv', 65536, 1, '/guest/pvgrub.bin')
    guest['config']['c_info']['uuid'] = GUEST_UUID
    assert render.list_long([render.dom0_entry(1835008, 1048575),
                             guest]) == capture('a063_xl_list_l_all_with_g1')


@pytest.mark.parametrize('case, text', [
    ('a071_xl_create_g1_duplicate_name',
     render.parsing('/tmp/cfg/g1.cfg') + render.create_exists(2, 'g1')),
    ('a075_xl_create_missing_kernel',
     render.parsing('/tmp/cfg/nokernel.cfg') +
     render.create_no_kernel(4, '/nonexistent/vmlinuz')),
    ('a077_xl_create_mem4096_oom',
     render.parsing('/tmp/cfg/big.cfg') + render.create_oom_claim(5)),
    ('a146_xl_create_oom_claim_mode0_mem4096',
     render.parsing('/tmp/cfg/big.cfg') +
     render.create_oom_populate(18, 4096 * 256)),
    ('a080_xl_create_syntax_error',
     render.parsing('/tmp/cfg/syntax.cfg') +
     render.config_syntax('/tmp/cfg/syntax.cfg', 5, 'is')),
    ('a082_xl_create_nonexistent_cfg',
     render.config_missing('/tmp/cfg/does-not-exist.cfg')),
    ('a132_xl_destroy_nonexistent', render.invalid_domain('nonexistent')),
    ('a136_xl_destroy_99', render.destroy_no_such_domid(99)),
    ('a134_xl_destroy_0', render.destroy_dom0()),
    ('a011_xl_list_99', render.no_such_domid('99')),
    ('a036_xl_mem-set_0_abc', render.memset_invalid('abc')),
    ('a053_xl_mem-set_0_4096m_above_max', render.memset_above_max(0,
                                                                  '4096m')),
    ('b007_xl_mem-set_0_64m', render.memset_below_min(65536, '64m')),
    ('a033_xl_mem-set_noargs', render.requires_args('mem-set', 2)),
    ('a016_xl_badcmd', render.NOT_IMPLEMENTED),
])
def test_messages_match_capture(case, text):
    assert text == capture(case, 'stderr')


# -- the fake program on the captured host -------------------------------


@pytest.fixture
def fake(tmp_path):
    return harness.FakeXl(tmp_path / 'fake', time_scale=1000)


def xl(fake, *args):
    proc = subprocess.run([fake.command] + list(args), capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout, proc.stderr


def test_fresh_host_prints_the_captures(fake):
    assert xl(fake, 'info') == (0, capture('a001_xl_info'), '')
    assert xl(fake, 'list', '-l', '0') == (0, capture('a005_xl_list_l_0'),
                                           '')
    code, out, err = xl(fake, 'list', '0')
    assert (code, _time_free(out), err) == (
        0, _time_free(capture('a006_xl_list_0')), '')
    assert xl(fake, 'list', 'nonexistent') == (
        1, '', capture('a008_xl_list_nonexistent', 'stderr'))
    assert xl(fake, 'frobnicate') == (1, '', 'command not implemented\n')
    assert fake.subcommands() == ['info', 'list', 'list', 'list',
                                  'frobnicate']


def test_mem_set_balloons_over_time(fake):
    assert xl(fake, 'mem-set', '0', '1024m') == (0, '', '')
    # Returns at once, like xl; the target is set, dom0 shrinks after.
    assert xl(fake, 'list', '-l', '0') == (
        0, capture('a046_xl_list_l_0_after_memset'), '')
    with fake.host() as model:
        assert model.dom0_target_mb == 1024
        # 512 MiB at 245 MiB/s is ~2 simulated seconds: 2 ms of real time.
        assert model.dom0_mb == pytest.approx(1024)
    code, out, _ = xl(fake, 'info')
    assert 'free_memory            : 1000\n' in out


def test_mem_set_refusals_are_xls(fake):
    assert xl(fake, 'mem-set', '0', '64m') == (
        1, '', capture('b007_xl_mem-set_0_64m', 'stderr'))
    assert xl(fake, 'mem-set', '0', '4096m') == (
        1, '', capture('a053_xl_mem-set_0_4096m_above_max', 'stderr'))
    assert xl(fake, 'mem-set', '0', 'abc') == (
        1, '', capture('a036_xl_mem-set_0_abc', 'stderr'))
    with fake.host() as model:
        assert model.dom0_target_mb == 1536


def test_create_and_destroy(fake, tmp_path):
    cfg = tmp_path / 'g1.cfg'
    cfg.write_text('name="g1"\ntype="pv"\nkernel="%s"\nmemory=64\nvcpus=1\n'
                   % fake.kernel)
    assert xl(fake, 'create', str(cfg)) == (
        0, '', 'Parsing config from %s\n' % cfg)
    code, out, _ = xl(fake, 'list')
    assert _time_free(out).splitlines()[-1] == _time_free(
        capture('a061_xl_list_with_g1')).splitlines()[-1]
    code, out, _ = xl(fake, 'info')
    assert 'free_memory            : 424\n' in out       # 488 - 64
    code, _, err = xl(fake, 'create', str(cfg))
    assert (code, err) == (3, render.parsing(str(cfg)) +
                           render.create_exists(2, 'g1'))
    assert xl(fake, 'destroy', 'g1') == (0, '', '')
    assert xl(fake, 'destroy', 'g1') == (
        1, '', 'g1 is an invalid domain identifier (rc=-6)\n')
    code, out, _ = xl(fake, 'info')
    assert 'free_memory            : 488\n' in out


def test_create_oom_with_claims(fake, tmp_path):
    cfg = tmp_path / 'big.cfg'
    cfg.write_text('name="big"\nkernel="%s"\nmemory=4096\n' % fake.kernel)
    code, _, err = xl(fake, 'create', str(cfg))
    assert (code, err) == (3, render.parsing(str(cfg)) +
                           render.create_oom_claim(1))
    assert fake.model().domains == {}


def test_pause_unpause_shutdown_as_captured(fake, tmp_path, monkeypatch):
    # Captures a109-a114: a pvgrub guest "gp" (domid 13 there, 1 here).
    cfg = tmp_path / 'gp.cfg'
    cfg.write_text('name="gp"\ntype="pv"\nkernel="%s"\nmemory=64\n'
                   'vcpus=1\n' % fake.kernel)
    assert xl(fake, 'create', str(cfg))[0] == 0
    assert xl(fake, 'pause', 'gp') == (0, capture('a112_xl_pause_gp'),
                                       capture('a112_xl_pause_gp', 'stderr'))
    code, out, _ = xl(fake, 'list', 'gp')
    # Columns as captured but the domid; the same widths.
    ours = out.splitlines()
    real = capture('a113_xl_list_gp_paused').splitlines()
    assert ours[0] == real[0] and len(ours[1]) == len(real[1])
    assert ours[1].split()[2:5] == real[1].split()[2:5] == [
        '64', '1', '--p---']
    assert xl(fake, 'unpause', 'gp') == (
        0, capture('a111_xl_unpause_gp'),
        capture('a111_xl_unpause_gp', 'stderr'))
    # pvgrub never takes the request: xl says so, then waits (the capture
    # was cut by its harness at 60 s, when libxl gives up too).
    monkeypatch.setenv('FAKE_XL_FAULT', 'shutdown-ignored')
    code, out, err = xl(fake, 'shutdown', 'gp')
    assert err.startswith(capture('a114_xl_shutdown_gp', 'stderr').replace(
        '13', '1'))
    assert code == 1 and 'shutdown failed (rc=-9)' in err
    assert 'gp' in fake.model().domains


def test_save_and_restore_files(fake, tmp_path):
    cfg = tmp_path / 'g1.cfg'
    cfg.write_text('name="g1"\nkernel="%s"\nmemory=64\n' % fake.kernel)
    assert xl(fake, 'create', str(cfg))[0] == 0
    path = tmp_path / 'g1.save'
    code, _, err = xl(fake, 'save', 'g1', str(path))
    assert code == 0 and err.startswith('Saving to %s new xl format' % path)
    assert path.read_bytes().startswith(render.SAVE_MAGIC)
    assert fake.model().domains == {}
    code, _, err = xl(fake, 'restore', str(cfg), str(path))
    assert code == 0, err
    assert err.startswith('Loading new save file %s' % path)
    assert 'Parsing config from %s\n' % cfg in err
    assert list(fake.model().domains) == ['g1']
    assert xl(fake, 'restore', str(tmp_path / 'none.save')) == (
        1, '', "Can't open restore file: No such file or directory\n")
