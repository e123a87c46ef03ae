"""The fake xl's guest lifecycle: shutdown, pause, unpause, save, restore.

As xl 4.17.7 does it (tools/xl/xl_vmcontrol.c, xl_saverestore.c,
libs/light/libxl_domain.c; messages in render.py):

- ``shutdown [-F] NAME`` prints "Shutting down domain N", writes the
  request and waits for the guest to take it. Our guests take it at once
  (a Linux kernel's xenbus watch does) and power off FAKE_XL_SHUTDOWN_S
  simulated seconds later (default 3: the Debian guest under QEMU, see
  tests/xen); on_poweroff=destroy, so the domain is then gone. A paused
  guest takes it only once unpaused. With the shutdown-ignored fault no
  guest takes it: xl waits libxl's 60 s and exits 1 (captures a114 and
  d014 show the wait; the harness killed xl at 60 s and 30 s there).
- ``pause`` / ``unpause NAME`` exit 0 once the name is found, whatever
  libxl answered (pause-noop: nothing changes).
- ``save NAME PATH`` writes the file (xl's magic, then the config as
  JSON where xl writes its header and the memory stream), then destroys
  the domain. save-fails: xl resumes the domain and exits 1, the partial
  file stays.
- ``restore [CONFIG] PATH`` reads it back and builds the domain as create
  does, from CONFIG when given (our backend always gives it).
"""

import json
import os
import time

from tests.fake_xl import render

SHUTDOWN_S = 3.0
# libxl's wait for the guest's acknowledgement (libxl_domain.c).
ACK_WAIT_S = 60.0


def settle(model):
    """Guests whose power-off time has come are gone."""
    for name, dom in list(model.domains.items()):
        at = dom.get('xl', {}).get('shutdown_at')
        if at is not None and at <= model.now:
            model.destroy(name)


def console_line(env, name, text):
    """What "xenconsoled --log=guest" appends to guest-NAME.log."""
    directory = env.get('FAKE_XL_CONSOLE_DIR')
    if directory:
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, 'guest-%s.log' % name)
        with open(path, 'a', encoding='utf-8') as f:
            f.write(text + '\n')


def _guest(fakexl, model, args, sub):
    idents = [a for a in args if not a.startswith('-')]
    if not idents:
        raise fakexl.Exit(2, stdout=render.USAGE,
                          stderr=render.requires_args(sub, 1))
    domid, name = fakexl.find(model, idents[0])
    if name is None:
        raise fakexl.Exit(1, stderr=render.invalid_domain(idents[0]))
    return domid, name, idents


def cmd_shutdown(host, args, faults, env):
    from tests.fake_xl import fakexl
    delay = float(env.get('FAKE_XL_SHUTDOWN_S') or SHUTDOWN_S)
    with host.session() as (model, extra, scale):
        domid, name, _ = _guest(fakexl, model, args, 'shutdown')
        xl = model.domains[name].setdefault('xl', {}) if domid else {}
        taken = False
        if 'shutdown-ignored' not in faults and domid != 0:
            xl['shutdown_asked'] = True
            if not xl.get('paused'):
                xl['shutdown_at'] = model.now + delay
                taken = True
    if taken:
        # The guest's kernel acknowledged: xl returns.
        raise fakexl.Exit(0, stderr=render.shutting_down(domid))
    # Not taken (yet): libxl waits its 60 s for the acknowledgement.
    time.sleep(ACK_WAIT_S / scale)
    raise fakexl.Exit(1, stderr=render.shutdown_not_acknowledged(domid))


def _set_paused(host, args, faults, sub, paused):
    from tests.fake_xl import fakexl
    with host.session() as (model, extra, scale):
        domid, name, _ = _guest(fakexl, model, args, sub)
        if domid == 0 or 'pause-noop' in faults:
            raise fakexl.Exit(0)
        xl = model.domains[name].setdefault('xl', {})
        xl['paused'] = paused
        if not paused and xl.get('shutdown_asked') and (
                xl.get('shutdown_at') is None):
            delay = float(env_delay(host))
            xl['shutdown_at'] = model.now + delay
    raise fakexl.Exit(0)


def env_delay(host):
    return host.env.get('FAKE_XL_SHUTDOWN_S') or SHUTDOWN_S


def cmd_pause(host, args, faults, env):
    _set_paused(host, args, faults, 'pause', True)


def cmd_unpause(host, args, faults, env):
    _set_paused(host, args, faults, 'unpause', False)


def cmd_save(host, args, faults, env):
    from tests.fake_xl import fakexl
    with host.session() as (model, extra, scale):
        domid, name, idents = _guest(fakexl, model, args, 'save')
        if len(idents) < 2:
            raise fakexl.Exit(2, stdout=render.USAGE,
                              stderr=render.requires_args('save', 2))
        path = idents[1]
        dom = model.domains[name]
        xl = dom.get('xl', {})
        config = json.dumps({'name': name, 'memory': xl.get('memory_mb'),
                             'vcpus': dom['vcpus'], 'type': xl.get('type'),
                             'kernel': xl.get('kernel'),
                             'uuid': xl.get('uuid')}).encode() + b'\0'
        try:
            with open(path, 'wb') as f:
                f.write(render.SAVE_MAGIC + config)
                if 'save-fails' not in faults:
                    # The memory stream: a marker per MiB, not the MiB.
                    f.write(b'P' * int(xl.get('memory_mb') or 0))
        except OSError:
            raise fakexl.Exit(1, stderr='Failed to open temp file %s for '
                                        'writing\n' % path)
        size = len(config) + 4
        if 'save-fails' in faults:
            raise fakexl.Exit(1, stderr=render.save_failed(path, size, domid))
        if 'save-leaves-domain' not in faults:
            model.destroy(name)
    raise fakexl.Exit(0, stderr=render.saving(path, size))


def cmd_restore(host, args, faults, env):
    from tests.fake_xl import fakexl
    files = [a for a in args if not a.startswith('-')]
    if len(files) not in (1, 2):
        raise fakexl.Exit(1, stdout=render.USAGE)
    path = files[-1]
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as err:
        raise fakexl.Exit(1, stderr=render.restore_cannot_open(err.strerror))
    if not data.startswith(render.SAVE_MAGIC):
        raise fakexl.Exit(1, stderr=render.RESTORE_BAD_MAGIC)
    saved = json.loads(data[len(render.SAVE_MAGIC):].split(b'\0')[0])
    size = len(json.dumps(saved)) + 5
    if len(files) == 2:
        config_path = files[0]
        config = fakexl.read_guest_config(config_path)
    else:
        config_path, config = '<saved>', saved
    head = render.restore_loading(path, size, config_path)
    name, memory = config.get('name'), int(config.get('memory') or 128)
    claims = fakexl.claim_mode(env)
    with host.session() as (model, extra, scale):
        domid = model.next_domid
        if name in model.domains or name == 'Domain-0':
            model.next_domid += 1
            raise fakexl.Exit(1, stderr=head + render.create_exists(
                domid, name))
        claimed = sum(fakexl.claim_of(model, d, claims)
                      for d in model.domains.values())
        if 'oom-create' in faults or (
                model.free_mb() - claimed < memory - fakexl.EPS):
            # Restore populates the saved memory; no claim covers it.
            model.next_domid += 1
            raise fakexl.Exit(1, stderr=head + render.restore_oom(domid))
        model.start_build(name, float(memory), int(config.get('vcpus', 1)))
        model.domains[name]['xl'] = {
            'memory_mb': memory, 'type': config.get('type', 'pv'),
            'kernel': config.get('kernel'), 'created_at': model.now,
            'uuid': config.get('uuid'), 'disk': config.get('disk', []),
            'vif': config.get('vif', [])}
        console_line(env, name, 'GUEST: restored')
    fakexl.wait_built(host, name, domid, head, memory, faults, code=1)
