"""Our config files as written: readable, and every name in them known.

oslo.config ignores a section or an option it has not registered, so a
misspelt ``stall_timout = 60`` would silently leave the default in force.
We parse each file again with oslo.config's own parser and compare its
names with the registered groups and options.
"""

import difflib
import re

from oslo_config import cfg

from xenballoon_driver import exception

# Tabs are white space; any other control character (NUL, escape, a
# stray carriage return inside a line) is a damaged or binary file.
CONTROL_RE = re.compile(r'[\x00-\x08\x0b-\x1f\x7f]')


def _bad(path, reason):
    return exception.InvalidConfig(option='file %s' % path, reason=reason)


def read(path):
    """{section: {option: [values]}} of one file; InvalidConfig if bad."""
    try:
        with open(path, 'rb') as f:
            text = f.read().decode('utf-8')
    except UnicodeDecodeError as err:
        raise _bad(path, 'byte %d is not UTF-8 text (%s): is it a config '
                         'file?' % (err.start, err.reason))
    except OSError as err:
        raise _bad(path, 'cannot read it: %s' % (err.strerror or err))
    text = text.replace('\r\n', '\n')
    for lineno, line in enumerate(text.split('\n'), 1):
        match = CONTROL_RE.search(line)
        if match:
            raise _bad(path, 'line %d holds control character %r: is it a '
                             'config file?' % (lineno, match.group()))
    sections = {}
    try:
        cfg.ConfigParser(path, sections).parse()
    except cfg.ParseError as err:
        raise _bad(path, str(err).replace('at %s:' % path, 'line '))
    return sections


def _suggest(word, names):
    close = difflib.get_close_matches(word, sorted(names), n=1)
    return '; did you mean %s?' % close[0] if close else ''


def known_names(conf):
    """{section: set of option names} that our ConfigOpts reads."""
    known = {'DEFAULT': set()}
    for key in conf:
        value = conf[key]
        if isinstance(value, cfg.ConfigOpts.GroupAttr):
            # An option is found under its dest (dashes read as "_").
            known[key] = {name for dest in value
                          for name in (dest, dest.replace('_', '-'))}
        else:
            # Options of oslo.config itself, or of a library (oslo.log)
            # that registers in DEFAULT, are accepted there.
            known['DEFAULT'].add(key)
    return known


def check(conf, paths):
    """InvalidConfig naming the first unknown section or option."""
    known = known_names(conf)
    for path in paths:
        for section, options in read(path).items():
            group = section if section == 'DEFAULT' else section.lower()
            if group not in known:
                raise exception.InvalidConfig(
                    option='section [%s] in %s' % (section, path),
                    reason='unknown section%s' % _suggest(
                        '[%s]' % group, ['[%s]' % g for g in known]))
            for name in options:
                if name not in known[group]:
                    raise exception.InvalidConfig(
                        option='[%s] %s in %s' % (section, name, path),
                        reason='unknown option%s' % _suggest(
                            name, known[group]))
