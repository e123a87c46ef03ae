"""What xl says on stderr: one line for an exception, and what it means.

xl's stderr mixes the reason for a failure with progress chatter, libxl's
source locations and the complaints of its own clean-up; ``message``
keeps the reason, and the ``says_*`` functions tell the failures the
backend treats apart (a name taken, no such domain, out of memory).
"""

import re

# Longest xl stderr message we carry in an exception.
MAX_MESSAGE_CHARS = 600
MAX_MESSAGE_LINES = 6

# "libxl: error: libxl_domain.c:81:libxl__domain_rename: " and
# "xc: error: panic: xg_dom_boot.c:119: ": where the message came from.
_LIBXL_PREFIX_RE = re.compile(
    r'^libxl: (?:error|warning|critical): [\w.-]+\.c:\d+:\w+: ')
_XC_PREFIX_RE = re.compile(
    r'^(?:xc|xen[a-z]+): (?:error|warning|critical): (?:panic: )?'
    r'(?:[\w.-]+\.c:\d+: )?')
# Verbose chatter (-v) and progress lines, never the reason for a failure.
_NOISE_RE = re.compile(
    r'^(?:Parsing config from |libxl: (?:debug|detail|verbose|info): |'
    r'xc: (?:detail|info|debug|verbose): |domainbuilder: detail: |'
    r'xencall:buffer: debug: |Waiting for domain |Shutting down domain |'
    r'Saving to .* new xl format|Loading new save file |'
    r'Savefile contains xl domain config)')
# libxl's clean-up of a domain it failed to build: consequences, not
# causes ("Unable to destroy guest", "Destruction of domain failed"), and
# "Non-existant domain" when an earlier line already said what failed.
_CLEANUP_RE = re.compile(
    r'(?:domain_destroy_callback|domain_destroy_cb): ')
_NONEXISTANT_RE = re.compile(r'libxl__destroy_domid: .*Non-existant domain')


def message(stderr):
    """xl's stderr -> a one-line message: noise dropped, prefixes trimmed.

    Keeps what says why (``Domain 2:Domain with name "g1" already
    exists.``), drops the "Parsing config" line, verbose chatter, empty
    lines and libxl's clean-up complaints after a failed create, and trims
    the ``libxl: error: file.c:NNN:function:`` prefixes. At most
    MAX_MESSAGE_LINES lines joined with "; ".
    """
    lines = [line.strip() for line in (stderr or '').splitlines()]
    lines = [line for line in lines
             if line and not _NOISE_RE.match(line) and
             not _CLEANUP_RE.search(line)]
    if len(lines) > 1:
        causes = [line for line in lines if not _NONEXISTANT_RE.search(line)]
        if causes and any(_LIBXL_PREFIX_RE.match(line) or
                          _XC_PREFIX_RE.match(line) for line in causes):
            lines = causes
    trimmed = []
    for line in lines:
        line = _LIBXL_PREFIX_RE.sub('', line)
        line = _XC_PREFIX_RE.sub('', line)
        if line and line not in trimmed:
            trimmed.append(line)
    text = '; '.join(trimmed[:MAX_MESSAGE_LINES])
    if len(trimmed) > MAX_MESSAGE_LINES:
        text += '; ...'
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS - 3] + '...'
    return text


_EXISTS_RE = re.compile(r'Domain with name ".*" already exists')
_NOT_FOUND_RE = re.compile(
    r"is an invalid domain identifier|Error: Domain '[^']*' does not exist|"
    r'Non-existant domain')
_OOM_RE = re.compile(
    r'Out of memory|Cannot allocate memory|failed to allocate 0x[0-9a-f]+ '
    r'pages|failed to free memory for the domain')


def says_exists(stderr):
    """xl create refused a name that another domain has."""
    return bool(_EXISTS_RE.search(stderr or ''))


def says_not_found(stderr):
    """xl could not find the domain it was given (destroy, list)."""
    return bool(_NOT_FOUND_RE.search(stderr or ''))


def says_out_of_memory(stderr):
    """xl create failed for lack of free memory (claim or populate)."""
    return bool(_OOM_RE.search(stderr or ''))


# libxl_domain.c pvcontrol_cb: the guest left control/shutdown unread
# for 60 s (libxl's own wait): the request stays, the guest ignores it.
_NO_ACK_RE = re.compile(r"guest didn't acknowledge control request")


def says_not_acknowledged(stderr):
    """xl shutdown: the request was written, the guest did not take it."""
    return bool(_NO_ACK_RE.search(stderr or ''))
