"""Checks on user input: domain names, memory sizes, vCPU counts."""

import pytest

from xenballoon_driver import exception
from xenballoon_driver import validation

MAX_MB = validation.MAX_MEMORY_MB


def rejected(check, value):
    with pytest.raises(exception.InvalidInput) as err:
        check(value)
    assert err.value.exit_code == exception.EXIT_BAD_INPUT
    return str(err.value)


# -- domain names ---------------------------------------------------------


@pytest.mark.parametrize('name', [
    'a', 'web', 'web-01', 'A.b_c-d', 'vm1', 'Z' + '9' * 63])
def test_good_names(name):
    assert validation.domain_name(name) == name


def test_empty_name():
    assert rejected(validation.domain_name, '') == (
        'Invalid domain name: it must not be empty')


def test_none_name():
    assert 'must be text, not None' in rejected(validation.domain_name, None)


def test_too_long_name():
    assert validation.domain_name('x' * 64) == 'x' * 64
    assert rejected(validation.domain_name, 'x' * 65) == (
        'Invalid domain name: 65 characters, at most 64 allowed')
    assert '1000 characters' in rejected(validation.domain_name, 'x' * 1000)


@pytest.mark.parametrize('name', [
    "it's", 'say"hi"', 'a\nb', '\nweb', 'a/b', '../etc', 'a b', ' web',
    'web ', 'a\tb', 'a;b', 'a|b', 'a&b', 'a>b', '$(id)', '`id`', 'a*',
    'a$b', 'a\\b', '1234', '0', '1web', '-rf', '.hidden', '_x', 'caf\xe9',
    'a\x00b'])
def test_bad_names(name):
    message = rejected(validation.domain_name, name)
    assert message.startswith('Invalid domain name: %r: ' % name)
    assert 'use a letter first' in message


@pytest.mark.parametrize('name', ['web\n', 'a-b.c\n'])
def test_name_with_a_trailing_newline(name):
    rejected(validation.domain_name, name)


def test_name_that_is_not_text():
    message = rejected(validation.domain_name, 1234)
    assert 'empty' not in message


# -- memory sizes ---------------------------------------------------------


@pytest.mark.parametrize('value,expected', [
    (1, 1), (4096, 4096), ('4096', 4096), (' 4096 ', 4096), ('+512', 512),
    (2048.0, 2048), (MAX_MB, MAX_MB), (str(MAX_MB), MAX_MB)])
def test_good_memory(value, expected):
    result = validation.memory_mb(value)
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize('value,reason', [
    (0, '0 must be above zero'),
    (-1, '-1 must be above zero'),
    ('-4096', '-4096 must be above zero'),
    ('0', '0 must be above zero'),
    (-2.0, '-2 must be above zero'),
    ('abc', "'abc' is not a whole number MiB"),
    ('', "'' is not a whole number MiB"),
    ('4G', "'4G' is not a whole number MiB"),
    ('1.5', "'1.5' is not a whole number MiB"),
    ('1e3', "'1e3' is not a whole number MiB"),
    ('12 34', "'12 34' is not a whole number MiB"),
    ('4096; rm -rf /', "'4096; rm -rf /' is not a whole number MiB"),
    (2.5, '2.5 is not a whole number MiB'),
    (float('inf'), 'inf is not a whole number MiB'),
    (float('nan'), 'nan is not a whole number MiB'),
    (True, 'True is not a number'),
    (False, 'False is not a number'),
    (None, 'None is not a number'),
    ([4096], '[4096] is not a number'),
    (MAX_MB + 1, '%d is above the limit of %d MiB' % (MAX_MB + 1, MAX_MB)),
    (10 ** 30, 'is above the limit of %d MiB' % MAX_MB),
    ('9' * 40, 'is above the limit of %d MiB' % MAX_MB),
])
def test_bad_memory(value, reason):
    message = rejected(validation.memory_mb, value)
    assert message.startswith('Invalid memory size: ')
    assert reason in message


def test_memory_names_what_it_checks():
    assert rejected(lambda v: validation.memory_mb(v, what='dom0 floor'),
                    0) == 'Invalid dom0 floor: 0 must be above zero'


def test_absurdly_long_memory_string():
    assert 'above the limit' in rejected(validation.memory_mb, '9' * 5000)


# -- vCPUs ------------------------------------------------------------------


@pytest.mark.parametrize('value,expected', [
    (1, 1), ('8', 8), (16.0, 16), (512, 512)])
def test_good_vcpus(value, expected):
    assert validation.vcpus(value) == expected


@pytest.mark.parametrize('value,reason', [
    (0, '0 must be above zero'),
    (-4, '-4 must be above zero'),
    (513, '513 is above the limit of 512'),
    (10 ** 9, 'is above the limit of 512'),
    (1.5, '1.5 is not a whole number'),
    ('two', "'two' is not a whole number"),
    ('', "'' is not a whole number"),
    (True, 'True is not a number'),
    (None, 'None is not a number'),
])
def test_bad_vcpus(value, reason):
    message = rejected(validation.vcpus, value)
    assert message.startswith('Invalid vCPU count: ')
    assert reason in message
    assert 'MiB' not in message


# -- issue 9: reserved names and ASCII digits -----------------------------


@pytest.mark.parametrize('name', ['Domain-0', 'domain-0', 'DOMAIN-0',
                                  'dOmAiN-0'])
def test_dom0s_name_is_reserved_in_any_case(name):
    assert rejected(validation.domain_name, name) == (
        'Invalid domain name: %r: reserved for dom0 (in any case); choose '
        'another name' % name)


@pytest.mark.parametrize('name', ['0', '7', '+7', '-1', ' 12', '0012'])
def test_names_xl_reads_as_a_domid(name):
    message = rejected(validation.domain_name, name)
    assert 'xl would read it as a domain ID' in message


def test_names_close_to_reserved_ones_are_fine():
    for name in ('Domain-01', 'Domain-0x', 'my-Domain-0', 'd0', 'x0'):
        assert validation.domain_name(name) == name


@pytest.mark.parametrize('text', [
    '\u0661\u0660\u0662\u0664', '\uff11\uff10\uff12\uff14', '1_024',
    '\u0967\u0966', '10\u00b2'])
def test_sizes_take_ascii_digits_only(text):
    assert 'ASCII digits' in rejected(validation.memory_mb, text)
    assert 'ASCII digits' in rejected(validation.vcpus, text)


# -- guest types ----------------------------------------------------------


@pytest.mark.parametrize('guest_type', ['pv', 'pvh', 'hvm'])
def test_good_guest_types(guest_type):
    assert validation.guest_type(guest_type) == guest_type


@pytest.mark.parametrize('guest_type', ['kvm', 'PV', '', None])
def test_bad_guest_types(guest_type):
    assert rejected(validation.guest_type, guest_type) == (
        'Invalid guest type: %r: use one of pv, pvh, hvm' % (guest_type,))


# -- boot file paths ------------------------------------------------------


def bad_path(path, **kwargs):
    with pytest.raises(exception.InvalidConfig) as err:
        validation.abs_path(path, '[xl] guest_kernel', **kwargs)
    assert '[xl] guest_kernel' in err.value.message
    return err.value.message


def test_paths_plain_and_otherwise():
    assert validation.abs_path('/boot/vmlinuz-6.1+x', 'k') == (
        '/boot/vmlinuz-6.1+x')
    odd = '/boot/vmlinuz&<x>"\'\u00fc'
    assert validation.abs_path(odd, 'k', plain=False) == odd
    assert 'letters, digits' in bad_path(odd)


@pytest.mark.parametrize('plain', [True, False])
@pytest.mark.parametrize('path', ['vmlinuz', '/boot/../etc/shadow',
                                  '/boot//vmlinuz', '//boot/vmlinuz',
                                  '/boot/./vmlinuz', '/boot/vm\nlinuz',
                                  '/boot/vm\x7flinuz'])
def test_paths_refused_either_way(path, plain):
    bad_path(path, plain=plain)


def test_empty_path_only_when_optional():
    assert validation.abs_path('', 'k', required=False) is None
    assert validation.abs_path(None, 'k', required=False) is None
    assert 'it is not set' in bad_path('')
    assert 'longer than 1024' in bad_path('/' + 'a' * 1024)


def test_instance_uuid_canonical_form():
    text = '1b4e28ba-2fa1-11d2-883f-0016d3cca427'
    assert validation.instance_uuid(text) == text
    assert validation.instance_uuid(text.upper()) == text


@pytest.mark.parametrize('value', [
    '', '1b4e28ba2fa111d2883f0016d3cca427',
    '{1b4e28ba-2fa1-11d2-883f-0016d3cca427}',
    'urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427',
    '1b4e28ba-2fa1-11d2-883f-0016d3cca427\n',
    ' 1b4e28ba-2fa1-11d2-883f-0016d3cca427',
    '1b4e28ba-2fa1-11d2-883f-0016d3cca42g',
    '1b4e28ba-2fa1-11d2-883f-0016d3cca427"\nkernel = "/x',
    '١b4e28ba-2fa1-11d2-883f-0016d3cca427'])
def test_bad_instance_uuids_are_refused(value):
    with pytest.raises(exception.InvalidInput,
                       match='^Invalid instance UUID: .*canonical form'):
        validation.instance_uuid(value)


@pytest.mark.parametrize('value', [None, 12, b'x'])
def test_instance_uuid_must_be_text(value):
    with pytest.raises(exception.InvalidInput,
                       match='^Invalid instance UUID: must be text'):
        validation.instance_uuid(value)
