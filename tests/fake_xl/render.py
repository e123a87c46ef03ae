"""Text exactly as xl 4.17.7 prints it, for the fake xl.

Formats and messages are copied from the real captures kept in
fixtures/ (see fixtures/README.rst); test_xl_parse checks that, given the
captured host's figures, these functions reproduce the captures byte for
byte.
"""

import json
import os
import uuid

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        'fixtures')
INFO_CASE = 'a001_xl_info'

LIST_HEADER = '%-40s %5s %5s %5s\tState\tTime(s)\n' % (
    'Name', 'ID', 'Mem', 'VCPUs')


def fixture(case, name='stdout'):
    with open(os.path.join(FIXTURES, case, name), encoding='utf-8') as f:
        return f.read()


# -- xl info -------------------------------------------------------------


def info(total_mb, free_mb, claims_mb, drop=(), replace=None):
    """``xl info`` of the captured host with these memory figures.

    ``drop``: keys left out; ``replace``: {key: raw value text}.
    """
    values = {'total_memory': str(total_mb), 'free_memory': str(free_mb),
              'outstanding_claims': str(claims_mb)}
    values.update(replace or {})
    lines = []
    for line in fixture(INFO_CASE).splitlines(True):
        key = line.split(':', 1)[0].strip()
        if key in drop:
            continue
        if key in values:
            line = '%-23s: %s\n' % (key, values[key])
        lines.append(line)
    return ''.join(lines)


# -- xl list -------------------------------------------------------------


def list_row(name, domid, mem_mb, vcpus, flags, cpu_s):
    return '%-40s %5d %5d %5d     %s  %8.1f\n' % (name, domid, mem_mb, vcpus,
                                                  flags, cpu_s)


def list_table(rows):
    """rows: (name, domid, mem_mb, vcpus, flags, cpu_s) tuples."""
    return LIST_HEADER + ''.join(list_row(*row) for row in rows)


# -- xl list -l (yajl's pretty printer) ----------------------------------


def _yajl(value, indent):
    pad = ' ' * indent
    inner = ' ' * (indent + 4)
    if isinstance(value, dict):
        if not value:
            return '{\n\n' + pad + '}'
        items = ['%s%s: %s' % (inner, json.dumps(key),
                               _yajl(item, indent + 4))
                 for key, item in value.items()]
        return '{\n' + ',\n'.join(items) + '\n' + pad + '}'
    if isinstance(value, list):
        if not value:
            return '[\n\n' + pad + ']'
        items = [inner + _yajl(item, indent + 4) for item in value]
        return '[\n' + ',\n'.join(items) + '\n' + pad + ']'
    return json.dumps(value)


def list_long(entries):
    """``xl list -l``: the JSON array, then an empty line, as xl ends it."""
    return _yajl(entries, 0) + '\n\n'


def dom0_entry(max_kb, target_kb, drop_target=False):
    """dom0 as ``xl list -l 0`` shows it.

    target_kb is xl's own figure: xl 4.17 prints xenstore's target minus
    one KiB.
    """
    b_info = {'max_memkb': max_kb, 'target_memkb': target_kb,
              'sched_params': {'sched': 'credit2', 'weight': 256, 'cap': 0},
              'type.pv': {}, 'arch_arm': {}, 'arch_x86': {}}
    if drop_target:
        del b_info['target_memkb']
    return {'domid': 0,
            'config': {'c_info': {'type': 'pv', 'name': 'Domain-0'},
                       'b_info': b_info}}


def guest_entry(domid, name, guest_type, memory_kb, vcpus, kernel,
                claim_mode=True, drop_target=False, uuid_text=None):
    """A guest in ``xl list -l``: its config's uuid, else one xl made."""
    b_info = {'max_vcpus': vcpus, 'avail_vcpus': list(range(vcpus)),
              'max_memkb': memory_kb, 'target_memkb': memory_kb,
              'video_memkb': 0,
              'sched_params': {'sched': 'credit2', 'weight': 256, 'cap': 0},
              'claim_mode': 'True' if claim_mode else 'False',
              'kernel': kernel, 'type.%s' % guest_type: {}, 'arch_arm': {},
              'arch_x86': {'msr_relaxed': 'False'}}
    if drop_target:
        del b_info['target_memkb']
    return {'domid': domid,
            'config': {'c_info': {'type': guest_type, 'name': name,
                                  'domid': 4294967295,
                                  'uuid': uuid_text or str(uuid.uuid5(
                                      uuid.NAMESPACE_DNS, name + '.fake-xl')),
                                  'run_hotplug_scripts': 'True'},
                       'b_info': b_info,
                       'on_reboot': 'restart',
                       'on_soft_reset': 'soft_reset'}}


# -- messages (stderr) ---------------------------------------------------

NO_CONTEXT = (
    'xencall: error: Could not obtain handle on privileged command '
    'interface: No such file or directory\n'
    'libxl: error: libxl.c:102:libxl_ctx_alloc: cannot open libxc handle: '
    'No such file or directory\n'
    'cannot init xl context\n')


def destroy_noise(domid):
    return (
        'libxl: error: libxl_domain.c:1183:libxl__destroy_domid: Domain %d:'
        'Non-existant domain\n'
        'libxl: error: libxl_domain.c:1137:domain_destroy_callback: Domain '
        '%d:Unable to destroy guest\n'
        'libxl: error: libxl_domain.c:1064:domain_destroy_cb: Domain %d:'
        'Destruction of domain failed\n' % (domid, domid, domid))


def parsing(path):
    return 'Parsing config from %s\n' % path


def create_exists(domid, name):
    return (
        'libxl: error: libxl_domain.c:81:libxl__domain_rename: Domain %d:'
        'Domain with name "%s" already exists.\n'
        'libxl: error: libxl_create.c:1296:initiate_domain_create: Domain '
        '%d:cannot make domain: -6\n' % (domid, name, domid)
    ) + destroy_noise(domid)


def create_no_kernel(domid, kernel):
    return (
        "xc: error: panic: xg_dom_core.c:205: failed to open file '%s': No "
        "such file or directory: Internal error\n"
        'libxl: error: libxl_dom.c:646:libxl__build_pv: xc_dom_kernel_file '
        'failed: No such file or directory\n'
        'libxl: error: libxl_create.c:1640:domcreate_rebuild_done: Domain '
        '%d:cannot (re-)build domain: -3\n' % (kernel, domid)
    ) + destroy_noise(domid)


def create_oom_claim(domid):
    """claim_mode=1 (xl's default): the claim fails at once."""
    return (
        "xc: error: panic: xg_dom_boot.c:119: xc_dom_boot_mem_init: can't "
        'allocate low memory for domain: Out of memory\n'
        'libxl: error: libxl_dom.c:586:libxl__build_dom: '
        'xc_dom_boot_mem_init failed: Cannot allocate memory\n'
        'libxl: error: libxl_create.c:1640:domcreate_rebuild_done: Domain '
        '%d:cannot (re-)build domain: -3\n' % domid
    ) + destroy_noise(domid)


def create_oom_populate(domid, pages):
    """claim_mode=0: populating runs out half-way."""
    return (
        'xc: error: panic: xg_dom_x86.c:1319: meminit_pv: failed to allocate '
        '0x%x pages: Internal error\n' % pages
    ) + create_oom_claim(domid).replace('Cannot allocate memory',
                                        'Device or resource busy')


def create_rebuild_failed(domid):
    return (
        'libxl: error: libxl_create.c:1640:domcreate_rebuild_done: Domain '
        '%d:cannot (re-)build domain: -3\n' % domid) + destroy_noise(domid)


def config_missing(path):
    return ('Failed to read config file: %s: No such file or directory\n'
            % path)


def config_syntax(path, line, near):
    return ("%s:%d: config parsing error near `%s': syntax error, "
            "unexpected IDENT, expecting += or '='\n"
            'Failed to parse config: Invalid argument\n' % (path, line, near))


def invalid_domain(ident):
    return '%s is an invalid domain identifier (rc=-6)\n' % ident


def no_such_domid(domid):
    return "Error: Domain '%s' does not exist.\n" % domid


def destroy_no_such_domid(domid):
    return destroy_noise(domid) + 'destroy failed (rc=-21)\n'


def destroy_dom0():
    return ('Not destroying domain 0; use -f to force.\n'
            'This can only be done when using a disaggregated hardware '
            'domain and toolstack.\n\n')


def memset_invalid(text):
    return 'invalid memory size: %s\n' % text


def memset_below_min(target_kb, text):
    return ('libxl: error: libxl_mem.c:287:libxl_set_memory_target: New '
            'target %d for dom0 is below the minimum threshold\n'
            'cannot set domid 0 dynamic max memory to : %s\n'
            % (target_kb, text))


def memset_above_max(domid, text):
    return ('libxl: error: libxl_mem.c:278:libxl_set_memory_target: '
            'memory_dynamic_max must be less than or equal to '
            'memory_static_max\n\n'
            'cannot set domid %d dynamic max memory to : %s\n'
            % (domid, text))


def requires_args(sub, count):
    return "'xl %s' requires at least %d argument%s.\n\n" % (
        sub, count, '' if count == 1 else 's')


USAGE = 'Usage xl [-vfNtT] <subcommand> [args]\n'
NOT_IMPLEMENTED = 'command not implemented\n'


# -- the guest lifecycle (not captured unless said: from xl 4.17.7's source,
# tools/xl/xl_vmcontrol.c, xl_saverestore.c, libs/light/libxl_domain.c) --


def shutting_down(domid):
    """xl_vmcontrol.c shutdown_domain; captured (a114, d014)."""
    return 'Shutting down domain %d\n' % domid


def shutdown_not_acknowledged(domid):
    """A guest that never took the request, after libxl's 60 s wait.

    libxl_domain.c pvcontrol_cb (ERROR_TIMEDOUT is -9; its line in the
    4.17.7 tag), then xl's "shutdown failed (rc=%d)".
    """
    return (shutting_down(domid) +
            "libxl: error: libxl_domain.c:854:pvcontrol_cb: guest didn't "
            'acknowledge control request: -9\n'
            'shutdown failed (rc=-9)\n')


# xl_saverestore.c: XL_MANDATORY_FLAG_JSON | XL_MANDATORY_FLAG_STREAMv2.
SAVE_FLAGS = '0x3/0x0'
# xl's savefileheader_magic (xl_utils.h), the save file's first bytes.
SAVE_MAGIC = b'Xen saved domain, xl format\n \0 \r'


def saving(path, optional_len):
    return 'Saving to %s new xl format (info %s/%d)\n' % (
        path, SAVE_FLAGS, optional_len)


def save_failed(path, optional_len, domid):
    """A save that fails half-way: libxl's complaint, then xl resumes."""
    return (saving(path, optional_len) +
            'libxl: error: libxl_stream_write.c:347:libxl__xc_domain_save_'
            'done: Domain %d:saving domain: domain did not respond to '
            'suspend request: Device or resource busy\n'
            'Failed to save domain, resuming domain\n' % domid)


def restore_cannot_open(error):
    return "Can't open restore file: %s\n" % error


RESTORE_BAD_MAGIC = ('File has wrong magic number - corrupt or for a '
                     'different tool?\n')


def restore_loading(path, optional_len, config_path):
    return ('Loading new save file %s (new xl fmt info %s/%d)\n'
            ' Savefile contains xl domain config in JSON format\n'
            'Parsing config from %s\n' % (path, SAVE_FLAGS, optional_len,
                                          config_path))


def restore_oom(domid):
    """Restore populates the saved memory (xg_sr_restore.c PERROR)."""
    return (
        'xc: error: Failed to populate physmap (12 = Cannot allocate '
        'memory): Internal error\n'
        'libxl: error: libxl_stream_read.c:850:libxl__xc_domain_restore_'
        'done: restoring domain: Cannot allocate memory\n'
        'libxl: error: libxl_create.c:1640:domcreate_rebuild_done: Domain '
        '%d:cannot (re-)build domain: -3\n' % domid) + destroy_noise(domid)
