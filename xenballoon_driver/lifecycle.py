"""The guest lifecycle calls of the driver (driver.py delegates here).

power_off and suspend run the power-off flow, power_on and resume the
power-on flow (flows/power_off.py, flows/power_on.py); a reboot is one
then the other, so the guest's memory stays promised to it throughout
(ledger STOPPED). Pause, console and uptime go straight to the backend.
"""

import math
import os

from oslo_log import log as logging

from xenballoon_driver import exception
from xenballoon_driver.flows import engine
from xenballoon_driver.flows import names
from xenballoon_driver.flows import power_off as power_off_flow
from xenballoon_driver.flows import power_on as power_on_flow
from xenballoon_driver.flows import registry
from xenballoon_driver.hypervisor import base
from xenballoon_driver import ledger as ledger_mod
from xenballoon_driver.ledger import power as ledger_power
from xenballoon_driver import validation

LOG = logging.getLogger(__name__)
STOPPED, DOMAIN = ledger_mod.STOPPED, ledger_mod.DOMAIN
# The longest a power-off may wait for a clean shutdown (a day).
MAX_WAIT_S = 86400


def _seconds(value, what):
    """A number of seconds in 0..MAX_WAIT_S; InvalidInput if not."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            not math.isfinite(value)) or not 0 <= value <= MAX_WAIT_S:
        raise exception.InvalidInput(
            what=what, reason='%r: seconds from 0 to %d' % (
                value, MAX_WAIT_S))
    return value


def _guest(driver, name):
    """The ledger's entry of guest ``name``; DomainNotFound if none.

    GuestBusy while a spawn or a start of it runs: refused before any
    flow is stored (the flow's own check, under the lock, stays).
    """
    validation.domain_name(name)
    _key, entry = driver.ledger.guest(name)
    if entry is None:
        raise exception.DomainNotFound(name=name)
    if entry['state'] not in (DOMAIN, STOPPED):
        raise ledger_power.busy(name, entry)
    return entry


def _run(driver, factory, store, request):
    flow = registry.build(driver, factory)
    try:
        return engine.run(flow, store, persistence=driver.persistence,
                          request=request, lock_dir=driver.lock_dir,
                          meta=registry.meta(factory, driver.host))
    finally:
        # A stop or start changes what is free: the headroom again.
        driver.keep_headroom()


def destroy_check(driver, name):
    """Refuse a destroy the destroy flow would refuse, before storing it.

    DomainBusy while a spawn of ``name`` runs; DomainNotFound when
    neither the ledger nor the host knows it (the flow's own checks,
    under the ledger's lock, stay).
    """
    validation.domain_name(name)
    mine = [e for e in driver.ledger.entries().values()
            if e['name'] == name]
    if any(e['state'] in (ledger_mod.RESERVED, ledger_mod.BUILDING)
           for e in mine):
        raise exception.DomainBusy(name=name)
    if not any(e['state'] in (DOMAIN, STOPPED) for e in mine) and (
            name not in driver.ledger.debts()[1]):
        driver.backend.domain_info(name)  # DomainNotFound if not there


def saved_path(driver, name):
    """Where a suspend of ``name`` keeps its memory."""
    state_dir = os.path.expanduser(driver.conf.xenballoon.state_dir)
    return os.path.join(os.path.abspath(state_dir), 'saved',
                        '%s.save' % name)


def power_off_store(driver, name, timeout=0, retry_interval=0,
                    save_path=None):
    """The checked inputs of a power-off (suspend: ``save_path``) flow.

    None when the guest is stopped already (nothing to run). Checked
    before any flow is stored, whether it runs here or as a job.
    """
    timeout = _seconds(timeout, 'shutdown timeout')
    retry_interval = _seconds(retry_interval, 'shutdown retry interval')
    entry = _guest(driver, name)
    if entry['state'] == STOPPED and 'stopping' not in entry:
        return None  # stopped already
    if not entry.get('spec'):
        # Stopped, it could never start again: refused while it runs.
        raise exception.InvalidInput(
            what='power-off of %s' % name,
            reason='its ledger entry was written by an older release and '
                   'keeps no spec to start it again from; it is left '
                   'running')
    return {names.NAME: name, names.TIMEOUT: timeout,
            names.RETRY_INTERVAL: retry_interval, names.SAVE_PATH: save_path}


def power_off(driver, name, timeout=0, retry_interval=0, save_path=None):
    store = power_off_store(driver, name, timeout, retry_interval, save_path)
    if store is None:
        return True
    results = _run(driver, power_off_flow.FLOW_NAME, store, '%s %s' % (
        'suspend' if save_path else 'power-off', name))
    return results[names.POWER_OFF]['clean']


def power_on_plan(driver, name):
    """What a power-on of ``name`` must do: (what, info).

    ('running', its DomainInfo): nothing. ('gone', None): running in the
    ledger but not on the host (the host rebooted, the guest crashed):
    marked stopped, then started. ('stopped', None): started.
    """
    if _guest(driver, name)['state'] == DOMAIN:
        try:
            return 'running', driver.backend.domain_info(name)
        except exception.DomainNotFound:
            return 'gone', None
    return 'stopped', None


def power_on(driver, name):
    what, info = power_on_plan(driver, name)
    if what == 'running':
        return info
    if what == 'gone':
        # Nova's resume_state_on_host_boot: stopped in the ledger first,
        # then started as any stopped guest is.
        LOG.warning('Guest %s is not on the host although it was '
                    'running: marking it stopped, then starting it', name)
        power_off(driver, name)
    results = _run(driver, power_on_flow.FLOW_NAME, {names.NAME: name},
                   'power-on %s' % name)
    return base.DomainInfo(**results[names.DOMAIN])


def reboot(driver, name, hard=False, timeout=60, retry_interval=10):
    """Soft: a clean shutdown (destroyed after ``timeout``), then start.

    Hard: destroy, then start. Either way through STOPPED.
    """
    power_off(driver, name, 0 if hard else timeout, retry_interval)
    return power_on(driver, name)


def _running(driver, name):
    entry = _guest(driver, name)
    if entry['state'] == STOPPED:
        raise exception.InvalidInput(
            what='request for guest %s' % name, reason=(
                'it is suspended; resume it first' if entry.get('saved')
                else 'it is stopped; power it on first'))


def pause(driver, name):
    _running(driver, name)
    driver.backend.pause_domain(name)
    return driver.backend.domain_info(name)


def unpause(driver, name):
    _running(driver, name)
    driver.backend.unpause_domain(name)
    return driver.backend.domain_info(name)


def suspend_check(driver, name):
    """None if ``name`` may be suspended; its info if it is already."""
    entry = _guest(driver, name)
    if entry['state'] == STOPPED and entry.get('saved'):
        return stopped_info(entry)
    if entry['state'] == STOPPED and 'stopping' not in entry:
        raise exception.InvalidInput(
            what='suspend of %s' % name,
            reason='it is stopped; power it on first')
    return None


def suspend(driver, name):
    """Save the guest's memory to disk and stop it.

    Its memory stays reserved. Unsupported (and nothing changed) if the
    backend cannot.
    """
    info = suspend_check(driver, name)
    if info is not None:
        return info
    power_off(driver, name, save_path=saved_path(driver, name))
    return stopped_info(_guest(driver, name))


def resume_check(driver, name):
    entry = _guest(driver, name)
    if entry['state'] == STOPPED and not entry.get('saved'):
        raise exception.InvalidInput(
            what='resume of %s' % name,
            reason='it is powered off, not suspended; power it on')


def resume(driver, name):
    resume_check(driver, name)
    return power_on(driver, name)


def guest_info(driver, name):
    """A stopped or suspended guest's info, read from the ledger."""
    return stopped_info(_guest(driver, name))


def stopped_info(entry):
    """A stopped guest as list_guests shows it (domid -1)."""
    spec = entry.get('spec') or {}
    return base.DomainInfo(
        name=entry['name'], domid=-1,
        memory_mb=spec.get('memory_mb', entry.get('memory_mb',
                                                  entry['need_mb'])),
        vcpus=spec.get('vcpus', 0),
        state='suspended' if entry.get('saved') else 'shutoff',
        uuid=spec.get('uuid'))


def list_guests(driver):
    """Running domains from the backend, stopped guests from the ledger."""
    infos = list(driver.backend.list_domains())
    on_host = {info.name for info in infos}
    infos += [stopped_info(entry) for entry in
              driver.ledger.stopped().values()
              if entry['name'] not in on_host]
    return sorted(infos, key=lambda info: info.name)


def set_vifs(driver, name, vifs):
    vifs = validation.vifs(vifs)
    validation.domain_name(name)
    driver.ledger.set_vifs(name, list(vifs))


def console_output(driver, name):
    validation.domain_name(name)
    return driver.backend.console_output(name)
