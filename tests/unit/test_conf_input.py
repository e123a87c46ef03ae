"""Config files as an adversary writes them: every number finite and in
ASCII digits, every section and option known, the file itself text."""

import pytest

from xenballoon_driver.cmd import base
from xenballoon_driver.conf import num
from xenballoon_driver.conf import opts
from xenballoon_driver import exception

NOT_NUMBERS = ['nan', 'NaN', 'inf', '-inf', 'infinity', '1e999',
               '\u0661\u0660\u0662\u0664', '1_000', '0x10', '', ' ']


def _number_opts():
    for group, group_opts in opts.list_opts():
        for opt in group_opts:
            if isinstance(opt.type, (num.FiniteFloat, num.AsciiInteger)):
                yield group.name, opt


def test_every_number_option_uses_our_types():
    checked = {(g, o.name) for g, o in _number_opts()}
    for group, group_opts in opts.list_opts():
        for opt in group_opts:
            if type(opt.type).__name__ in ('Float', 'Integer'):
                pytest.fail('[%s] %s reads nan or Unicode digits: build it '
                            'with conf.num' % (group.name, opt.name))
    assert len(checked) >= 16


@pytest.mark.parametrize('value', NOT_NUMBERS)
def test_every_number_option_refuses(tmp_path, value):
    # One file per option, so that each refusal names its own option.
    for group, opt in _number_opts():
        path = tmp_path / ('%s-%s.conf' % (group, opt.name))
        path.write_text('[%s]\n%s = %s\n' % (group, opt.name, value),
                        encoding='utf-8')
        with pytest.raises(exception.InvalidConfig) as err:
            base.load_conf([str(path)])
        message = str(err.value)
        assert '[%s] %s in %s' % (group, opt.name, path) in message
        assert 'LocationInfo' not in message and '\n' not in message


@pytest.mark.parametrize('value,expected', [
    ('2.5', 2.5), ('+3', 3.0), ('.5', 0.5), ('1e2', 100.0), (' 7 ', 7.0)])
def test_ordinary_floats_still_read(tmp_path, value, expected):
    path = tmp_path / 'ok.conf'
    path.write_text('[xenballoon]\nstall_timeout = %s\n' % value)
    assert base.load_conf([str(path)]).xenballoon.stall_timeout == expected


def test_integer_type_refuses_unicode_digits_and_underscores():
    kind = num.AsciiInteger(min=0)
    assert kind('42') == 42 and kind(' +7 ') == 7
    for text in ('\u0664\u0662', '4_2', '4.0', '', 'x'):
        with pytest.raises(ValueError):
            kind(text)


@pytest.mark.parametrize('text,says', [
    ('[xenballoon]\nstall_timout = 3\n',
     '[xenballoon] stall_timout in %s: unknown option; did you mean '
     'stall_timeout?'),
    ('[xenbaloon]\nstall_timeout = 3\n',
     'section [xenbaloon] in %s: unknown section; did you mean '
     '[xenballoon]?'),
    ('[DEFAULT]\nverbose = true\n', '[DEFAULT] verbose in %s: unknown option'),
    ('[nosuch]\n', 'section [nosuch] in %s: unknown section'),
])
def test_unknown_names_are_refused_with_a_suggestion(tmp_path, text, says):
    path = tmp_path / 'x.conf'
    path.write_text(text)
    with pytest.raises(exception.InvalidConfig) as err:
        base.load_conf([str(path)])
    assert says % path in str(err.value)


def test_known_names_in_any_case_of_section_are_accepted(tmp_path):
    path = tmp_path / 'x.conf'
    path.write_text('[XenBalloon]\nstall_timeout = 3\n[DEFAULT]\n'
                    'config_dir = %s\n' % tmp_path)
    assert base.load_conf([str(path)]).xenballoon.stall_timeout == 3.0


@pytest.mark.parametrize('data,says', [
    (b'[xenballoon]\n\xff\xfe garbage\n', 'byte 13 is not UTF-8 text'),
    (b'[xenballoon]\nhost = a\x00b\n', "line 2 holds control character "
                                       "'\\x00'"),
    (b'\x1b[31m\n', "line 1 holds control character '\\x1b'"),
    (b'[xenballoon\n', 'line 1, Invalid section'),
    (b'stall_timeout = 3\n', 'line 1, Section must be started'),
])
def test_a_damaged_file_is_named(tmp_path, data, says):
    path = tmp_path / 'bad.conf'
    path.write_bytes(data)
    with pytest.raises(exception.InvalidConfig) as err:
        base.load_conf([str(path)])
    assert 'file %s: ' % path in str(err.value)
    assert says in str(err.value)


def test_a_directory_as_config_file(tmp_path):
    with pytest.raises(exception.InvalidConfig, match='no such file'):
        base.load_conf([str(tmp_path)])
