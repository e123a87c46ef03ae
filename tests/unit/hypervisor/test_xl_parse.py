"""Reading xl 4.17's output: the real captures, and what is not xl's."""

import os

import pytest

from xenballoon_driver.hypervisor import base
from xenballoon_driver.hypervisor import xl_messages
from xenballoon_driver.hypervisor import xl_parse
from xenballoon_driver.hypervisor import xl_settings

FIXTURES = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir,
                        'fake_xl', 'fixtures')


def capture(case, name='stdout'):
    with open(os.path.join(FIXTURES, case, name), encoding='utf-8') as f:
        return f.read()


INFO = capture('a001_xl_info')
LIST = capture('a003_xl_list')
LONG_0 = capture('a005_xl_list_l_0')


def info_with(**values):
    lines = []
    for line in INFO.splitlines(True):
        key = line.split(':', 1)[0].strip()
        if key in values:
            if values[key] is None:
                continue
            line = '%-23s: %s\n' % (key, values[key])
        lines.append(line)
    return ''.join(lines)


# -- xl info -------------------------------------------------------------


def test_info_capture():
    assert xl_parse.host_memory(INFO) == base.HostMemory(
        total_mb=2047, free_mb=488, claimed_mb=0)
    fields = xl_parse.parse_info(INFO)
    assert fields['xen_version'] == '4.17.7'
    assert fields['xen_changeset'] == ''          # "xen_changeset : "
    assert fields['hw_caps'].count(':') == 7      # colons inside a value


def test_info_capture_with_a_guest():
    assert xl_parse.host_memory(capture('d007_xl_info_with_bigok')) == (
        base.HostMemory(total_mb=2047, free_mb=524, claimed_mb=0))


def test_info_claims_are_not_usable():
    mem = xl_parse.host_memory(info_with(outstanding_claims='100'))
    assert (mem.free_mb, mem.claimed_mb, mem.usable_mb) == (488, 100, 388)


@pytest.mark.parametrize('values, reason', [
    ({'free_memory': '-42'}, 'free_memory is negative: -42'),
    ({'total_memory': str(2 ** 40)}, 'total_memory is absurd'),
    ({'free_memory': None}, 'free_memory is missing'),
    ({'outstanding_claims': None}, 'outstanding_claims is missing'),
    ({'total_memory': None}, 'total_memory is missing'),
    ({'free_memory': '4000'}, 'free_memory 4000 is above total_memory 2047'),
    ({'total_memory': '0'}, 'total_memory is 0'),
    ({'free_memory': '488.5'}, 'free_memory is not a whole number'),
    ({'free_memory': ''}, 'free_memory is not a whole number'),
    ({'total_memory': '9' * 40}, 'total_memory is not a whole number'),
])
def test_info_bad_figures(values, reason):
    with pytest.raises(xl_parse.ParseError) as err:
        xl_parse.host_memory(info_with(**values))
    assert reason in str(err.value)


@pytest.mark.parametrize('text, reason', [
    ('', 'no output'),
    ('\n\n', 'no output'),
    ('<html>502 Bad Gateway</html>\n', 'line 1 is not "key : value"'),
    (INFO + 'garbage without a colon\n', 'line 35 is not "key : value"'),
    (INFO + 'free_memory            : 1\n', 'line 35 repeats free_memory'),
])
def test_info_not_xl_format(text, reason):
    with pytest.raises(xl_parse.ParseError) as err:
        xl_parse.host_memory(text)
    assert reason in str(err.value)


# -- xl list -------------------------------------------------------------


def test_list_capture():
    rows = xl_parse.parse_list(LIST)
    assert len(rows) == 1
    row = rows[0]
    assert (row.name, row.domid, row.mem_mb, row.vcpus, row.flags,
            row.cpu_time_s, row.state) == ('Domain-0', 0, 1536, 2, 'r-----',
                                           12.7, 'running')
    assert xl_parse.dom0_row(rows) is row
    assert xl_parse.dom0_row(xl_parse.parse_list(
        capture('a006_xl_list_0'))).mem_mb == 1536


def test_list_capture_with_guests():
    rows = xl_parse.parse_list(capture('a061_xl_list_with_g1'))
    assert [(r.name, r.domid, r.mem_mb, r.vcpus) for r in rows] == [
        ('Domain-0', 0, 1024, 2), ('g1', 1, 64, 1)]
    rows = xl_parse.parse_list(capture('d006_xl_list_with_bigok'))
    assert [(r.name, r.mem_mb) for r in rows] == [('Domain-0', 300),
                                                  ('bigok', 1200)]


def test_list_names_xl_accepts_but_we_do_not():
    # Domains made by someone else still have to be read right.
    rows = xl_parse.parse_list(capture('a086_xl_list_with_space_name'))
    assert [(r.name, r.domid, r.mem_mb) for r in rows][-1] == (
        'bad name', 7, 64)
    rows = xl_parse.parse_list(capture('a095_xl_list_with_numeric_name'))
    assert [(r.name, r.domid) for r in rows][-1] == ('12345', 10)


def test_list_states():
    rows = xl_parse.parse_list(capture('a110_xl_list_with_paused'))
    assert {r.name: (r.flags, r.state) for r in rows} == {
        'Domain-0': ('r-----', 'running'), 'g1': ('------', 'running'),
        'g2': ('r-----', 'running'), '12345': ('------', 'running'),
        'gp': ('--p---', 'paused')}
    assert xl_parse.state_word('----c-') == 'crashed'
    assert xl_parse.state_word('-b---d') == 'dying'
    assert xl_parse.state_word('---s--') == 'shutdown'


@pytest.mark.parametrize('case', ['a007_xl_list_v',
                                  'a150_xl_claims_with_g1_claim_mode1'])
def test_list_other_layouts_are_refused(case):
    # -v and "xl claims" add columns; reading them as "xl list" would
    # shift every figure.
    with pytest.raises(xl_parse.ParseError) as err:
        xl_parse.parse_list(capture(case))
    assert 'unexpected header' in str(err.value)


ROW = ('g1                                           1    64     1     '
       'r-----       2.7')


@pytest.mark.parametrize('text, reason', [
    ('', 'no output'),
    ('Name ID Mem\nDomain-0 zero lots\n', 'unexpected header'),
    (LIST + 'g1 1 64\n', 'line 3 has 3 columns, not 6'),
    (LIST + ROW.replace('    64', '   -64') + '\n', 'Mem is negative'),
    (LIST + ROW.replace('    64', ' 99999999999') + '\n', 'Mem is absurd'),
    (LIST + ROW.replace('r-----', 'running') + '\n',
     'State is not six flags'),
    (LIST + ROW.replace('2.7', 'n/a') + '\n', 'Time(s) is not a number'),
    (LIST + ROW.replace('   1    64', '   0    64') + '\n',
     'repeats domid 0'),
    (LIST + ROW.replace('    64', '  6.4') + '\n',
     'Mem is not a whole number'),
])
def test_list_not_xl_format(text, reason):
    with pytest.raises(xl_parse.ParseError) as err:
        xl_parse.parse_list(text)
    assert reason in str(err.value)


def test_list_without_dom0():
    rows = xl_parse.parse_list(LIST.splitlines(True)[0] + ROW + '\n')
    with pytest.raises(xl_parse.ParseError) as err:
        xl_parse.dom0_row(rows)
    assert 'dom0 (domid 0) is missing' in str(err.value)
    with pytest.raises(xl_parse.ParseError):
        xl_parse.dom0_row(xl_parse.parse_list(LIST.splitlines(True)[0]))


# -- xl list -l ----------------------------------------------------------


def test_list_long_captures():
    assert xl_parse.dom0_target_mb(xl_parse.parse_list_long(LONG_0)) == 1536
    after = capture('a046_xl_list_l_0_after_memset')
    assert xl_parse.dom0_target_mb(xl_parse.parse_list_long(after)) == 1024
    entries = xl_parse.parse_list_long(capture('a063_xl_list_l_all_with_g1'))
    assert [e['domid'] for e in entries] == [0, 1]
    assert xl_parse.dom0_target_mb(entries) == 1024


@pytest.mark.parametrize('kib, mib', [
    (1572863, 1536),    # xl 4.17: xenstore's 1572864 minus one KiB
    (1572864, 1536),    # a libxl without the quirk
    (1048575, 1024), (1048576, 1024),
    (65536, 64),        # guests are printed exactly
    (1362267, 1331),    # autoballoon's 1362268 KiB: not whole MiB, round up
    (1362268, 1331),
    (1, 1), (1023, 1), (1024, 1), (1025, 2),
])
def test_target_kib_to_mib(kib, mib):
    assert xl_parse.target_mb_from_kib(kib) == mib
    assert isinstance(xl_parse.target_mb_from_kib(kib), int)


def test_target_never_below_what_was_asked():
    for mib in range(128, 4096, 7):
        for kib in (mib * 1024 - 1, mib * 1024):
            assert xl_parse.target_mb_from_kib(kib) == mib


@pytest.mark.parametrize('text, reason', [
    ('', 'no output'),
    (LONG_0[:len(LONG_0) // 2], 'not valid JSON'),
    ('(domain\n    (domid 0)\n)\n', 'output_format="sxp"'),
    ('{"domid": 0}', 'not a JSON array but dict'),
    ('[1]', 'entry 0 is not an object'),
    ('[{"config": {}}]', 'entry 0 has no domid'),
    ('[{"domid": true, "config": {}}]', 'domid is not a whole number'),
    ('[{"domid": -1, "config": {}}]', 'domid is negative'),
    ('[{"domid": 0}]', 'has no config object'),
    ('[{"domid": 0, "config": {}}, {"domid": 0, "config": {}}]',
     'repeats domid 0'),
])
def test_list_long_not_xl_format(text, reason):
    with pytest.raises(xl_parse.ParseError) as err:
        xl_parse.parse_list_long(text)
    assert reason in str(err.value)


@pytest.mark.parametrize('old, new, reason', [
    ('"target_memkb": 1572863,', '', 'target_memkb is missing'),
    ('1572863', '-1572863', 'target_memkb is negative'),
    ('1572863', '"1572863"', 'target_memkb is not a whole number'),
    ('1572863', '1572863.5', 'target_memkb is not a whole number'),
    ('1572863', str(2 ** 60), 'target_memkb is absurd'),
    ('1572863', '0', 'target_memkb is 0'),
    ('"domid": 0', '"domid": 7', 'domid 0 is missing'),
    ('"b_info"', '"x_info"', 'dom0 has no b_info object'),
])
def test_dom0_target_bad(old, new, reason):
    text = LONG_0.replace(old, new)
    assert text != LONG_0
    with pytest.raises(xl_parse.ParseError) as err:
        xl_parse.dom0_target_mb(xl_parse.parse_list_long(text))
    assert reason in str(err.value)


# -- stderr --------------------------------------------------------------


@pytest.mark.parametrize('case, expected', [
    ('a071_xl_create_g1_duplicate_name',
     'Domain 2:Domain with name "g1" already exists.; '
     'Domain 2:cannot make domain: -6'),
    ('a077_xl_create_mem4096_oom',
     "xc_dom_boot_mem_init: can't allocate low memory for domain: Out of "
     'memory; xc_dom_boot_mem_init failed: Cannot allocate memory; '
     'Domain 5:cannot (re-)build domain: -3'),
    ('a075_xl_create_missing_kernel',
     "failed to open file '/nonexistent/vmlinuz': No such file or "
     'directory: Internal error; xc_dom_kernel_file failed: No such file '
     'or directory; Domain 4:cannot (re-)build domain: -3'),
    ('a132_xl_destroy_nonexistent',
     'nonexistent is an invalid domain identifier (rc=-6)'),
    ('a136_xl_destroy_99',
     'Domain 99:Non-existant domain; destroy failed (rc=-21)'),
    ('a134_xl_destroy_0',
     'Not destroying domain 0; use -f to force.; This can only be done '
     'when using a disaggregated hardware domain and toolstack.'),
    ('a053_xl_mem-set_0_4096m_above_max',
     'memory_dynamic_max must be less than or equal to memory_static_max; '
     'cannot set domid 0 dynamic max memory to : 4096m'),
    ('b007_xl_mem-set_0_64m',
     'New target 65536 for dom0 is below the minimum threshold; cannot set '
     'domid 0 dynamic max memory to : 64m'),
    ('a080_xl_create_syntax_error',
     "/tmp/cfg/syntax.cfg:5: config parsing error near `is': syntax error, "
     "unexpected IDENT, expecting += or '='; Failed to parse config: "
     'Invalid argument'),
    ('d026_xl_-vvv_create_autoballoon_on_mem4096',
     'New target 0 for dom0 is below the minimum threshold; failed to free '
     'memory for the domain'),
])
def test_message_trims_libxl_noise(case, expected):
    assert xl_messages.message(capture(case, 'stderr')) == expected


def test_message_is_bounded():
    noise = ''.join('libxl: error: libxl.c:1:f: reason %d\n' % i
                    for i in range(50))
    text = xl_messages.message(noise)
    assert text.startswith('reason 0; reason 1;')
    assert text.endswith('; ...')
    assert text.count(';') == xl_messages.MAX_MESSAGE_LINES
    assert len(xl_messages.message('x' * 5000)) == (
        xl_messages.MAX_MESSAGE_CHARS)
    assert xl_messages.message('') == ''
    assert xl_messages.message(None) == ''


@pytest.mark.parametrize('case, exists, oom, not_found', [
    ('a071_xl_create_g1_duplicate_name', True, False, True),
    ('a075_xl_create_missing_kernel', False, False, True),
    ('a077_xl_create_mem4096_oom', False, True, True),
    ('a144_xl_create_oom_claim_mode1_mem4096', False, True, True),
    ('a146_xl_create_oom_claim_mode0_mem4096', False, True, True),
    ('d026_xl_-vvv_create_autoballoon_on_mem4096', False, True, False),
    ('a080_xl_create_syntax_error', False, False, False),
    ('a132_xl_destroy_nonexistent', False, False, True),
    ('a136_xl_destroy_99', False, False, True),
    ('a008_xl_list_nonexistent', False, False, True),
    ('a011_xl_list_99', False, False, True),
    ('a134_xl_destroy_0', False, False, False),
])
def test_classify_failures(case, exists, oom, not_found):
    # "not found" is only asked after a destroy or a list: libxl's clean-up
    # after a failed create also says "Non-existant domain".
    stderr = capture(case, 'stderr')
    assert xl_messages.says_exists(stderr) is exists
    assert xl_messages.says_out_of_memory(stderr) is oom
    assert xl_messages.says_not_found(stderr) is not_found


# -- xl.conf -------------------------------------------------------------


def test_shipped_xl_conf_means_defaults():
    settings = xl_settings.parse_xl_conf(
        capture('a025_etc_xen_xl.conf_shipped'))
    assert settings == {}           # every setting is commented out
    assert xl_settings.claim_mode(settings) is True


@pytest.mark.parametrize('text, claims', [
    ('claim_mode=0\n', False),
    ('claim_mode = 1  # on\n', True),
    ('  claim_mode=0;\n', False),
    ('claim_mode="0"\n', False),
    ("claim_mode='1'\n", True),
    ('#claim_mode=0\n', True),
    ('claim_mode=0x0\n', False),
    ('claim_mode=maybe\n', None),
    ('autoballoon="on"\n', True),
])
def test_xl_conf_claim_mode(text, claims):
    assert xl_settings.claim_mode(xl_settings.parse_xl_conf(text)) is claims


def test_xl_conf_reads_strings_and_skips_lists():
    settings = xl_settings.parse_xl_conf(
        'autoballoon="on"\nlockfile = \'/var/lock/xl\'\n'
        'vm.cpumask="0-7"\nlist = [ "a", "b" ]\n')
    assert settings == {'autoballoon': 'on', 'lockfile': '/var/lock/xl',
                        'vm.cpumask': '0-7'}
