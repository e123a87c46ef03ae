"""xl's own configuration file (/etc/xen/xl.conf): what we need of it.

Claims: with claim_mode on (xl's default), ``xl create`` claims the
guest's whole memory from Xen before building it, so a create that does
not fit fails at once with "Out of memory" instead of racing other
memory users. With claim_mode=0 there is no claim: the build allocates
page by page and can race anything else taking memory at the same time
(another create, dom0 growing back), failing half-way. The driver only
builds once the memory is free and reserved in its ledger, which covers
its own spawns, not other users of xl; so ``read`` warns when claims
are off, and when autoballoon is on (xl ballooning dom0 itself, behind
the driver's ledger).
"""

import re

from oslo_log import log as logging

LOG = logging.getLogger(__name__)

_CONF_LINE_RE = re.compile(
    r'^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(?:"([^"]*)"|\'([^\']*)\'|'
    r'([^\s#;]+))\s*;?\s*(?:#.*)?$')


def parse_xl_conf(text):
    """xl.conf -> {setting: value text} for simple ``key=value`` lines.

    Comments and blank lines are skipped; lists and lines we do not
    understand are skipped too (xl reads them, we only need two scalars).
    """
    settings = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith('#'):
            continue
        match = _CONF_LINE_RE.match(line)
        if match:
            key = match.group(1)
            value = next(v for v in match.groups()[1:] if v is not None)
            settings[key] = value
    return settings


def claim_mode(settings):
    """xl.conf settings -> whether xl create claims memory.

    xl's default is on; None when the value cannot be read.
    """
    value = settings.get('claim_mode')
    if value is None:
        return True
    if value.lower() in ('1', 'true', 'yes', 'on'):
        return True
    if value.lower() in ('0', 'false', 'no', 'off'):
        return False
    try:
        return int(value, 0) != 0
    except ValueError:
        return None


def read(path):
    """xl.conf at ``path`` -> (claims on?, autoballoon text), warning."""
    try:
        with open(path, encoding='utf-8', errors='replace') as f:
            settings = parse_xl_conf(f.read())
    except FileNotFoundError:
        settings = {}
    except OSError as err:
        LOG.warning('Cannot read %s (%s): assuming xl\'s defaults '
                    '(claim_mode on)', path, err)
        settings = {}
    claims = claim_mode(settings)
    if claims is None:
        LOG.warning('%s: claim_mode = %r is not a number: assuming xl\'s '
                    'default (on)', path, settings.get('claim_mode'))
        claims = True
    if not claims:
        LOG.warning(
            'claim_mode is off in %s: "xl create" will not claim a '
            'guest\'s memory before building it, so a create can race '
            'other memory users (another toolstack, dom0 growing back) '
            'and fail half-way; set claim_mode=1 to fail such creates '
            'at once instead', path)
    autoballoon = settings.get('autoballoon', 'auto')
    if autoballoon.lower() in ('on', '1', 'true', 'yes'):
        LOG.warning('autoballoon is on in %s: xl will balloon dom0 '
                    'itself when a create finds too little free memory, '
                    'behind the driver\'s ledger', path)
    return claims, autoballoon
