"""The "simulated" backend: the embedded default and our test bed.

It drives a HostModel through the same contract as a real toolstack
(loaded by its entry point, ``simulated`` in xenballoon_driver.hypervisors).
Given a store it shares that host (tests, ``simulate``); otherwise it
keeps the host in [simulator] state_file and runs it in scaled real time.
"""

import json
import os

from xenballoon_driver import exception
from xenballoon_driver.hypervisor import base
from xenballoon_driver.simulator import balloon_driver
from xenballoon_driver.simulator import guests
from xenballoon_driver.simulator import scenario as scenario_mod
from xenballoon_driver.simulator import store as store_mod
from xenballoon_driver import units

# The simulator models Xen 4.17 (libxl's waits, claims): it reports that
# version, in Nova's integer form.
SIMULATED_XEN_VERSION = 4017000

# Longest sleep while waiting for a build, so a destroy racing it is seen.
BUILD_POLL_MAX_S = 1.0


class SimulatedHypervisor(base.Hypervisor):
    hypervisor_type = 'xen (simulated)'

    def __init__(self, conf, store=None):
        if store is None:
            scenario = scenario_mod.load(conf.simulator.scenario_file)
            path = conf.simulator.state_file or os.path.join(
                conf.xenballoon.state_dir, 'simulated-host.json')
            store = store_mod.FileStore(path, scenario,
                                        conf.simulator.time_scale)
        self.store = store
        self.clock = store.clock
        with store.session(write=False) as model:
            self.latency = model.toolstack

    def _call(self, seconds):
        """A toolstack call's own time (the scenario's toolstack section).

        A look's figures are the host's at the END of its call: xl reads
        xenstore and makes its hypercalls after its fork/exec and libxl's
        init, which are most of its time (under QEMU nearly all of it),
        and prints right after. So a figure is as old as the calls made
        after it, never fresher.
        """
        if seconds:
            self.clock.sleep(seconds)

    def snapshot(self):
        """As the xl backend looks (base.Hypervisor.snapshot's order).

        ``xl list``, dom0, ``xl info``, then dom0 again: each figure read
        at the end of its own call; the smaller dom0 reading is kept
        (base.smaller_dom0), so dom0 moving either way between the
        readings makes the host look fuller, never emptier.
        """
        lat = self.latency
        self._call(lat.list_s)
        domains = self._snapshot().domains
        self._call(lat.dom0_s)
        before = self._snapshot().dom0
        self._call(lat.info_s)
        host = self._snapshot().host
        self._call(lat.dom0_s)
        return base.Snapshot(
            host=host, dom0=base.smaller_dom0(before, self._snapshot().dom0),
            domains=domains)

    def _snapshot(self):
        # Whole MiB rounded down, free memory, dom0 and domains alike: the
        # ledger's sums can then only come out short, never count a
        # fraction twice.
        with self.store.session(write=False) as model:
            return base.Snapshot(
                host=base.HostMemory(total_mb=units.mib_floor(model.total_mb),
                                     free_mb=units.mib_floor(model.free_mb())),
                dom0=base.Dom0Memory(current_mb=units.mib_floor(model.dom0_mb),
                                     target_mb=units.mib_ceil(
                                         model.dom0_target_mb)),
                domains={name: units.mib_floor(dom['populated_mb'])
                         for name, dom in model.domains.items()})

    def balloon_state(self):
        """dom0's balloon thread as its sysfs shows it, or None.

        None unless the scenario models the thread (balloon.
        max_schedule_delay_s). available_mb is MemAvailable: dom0's free
        pages and page cache. Reading sysfs and /proc/meminfo is a file
        read in dom0, not a toolstack call: no toolstack time is charged.
        """
        with self.store.session(write=False) as model:
            shown = balloon_driver.sysfs(model)
        if shown is None:
            return None
        delay, max_delay, retry, max_retry, available = shown
        return base.BalloonState(
            schedule_delay_s=delay, max_schedule_delay_s=max_delay,
            retry_count=retry, max_retry_count=max_retry,
            available_mb=units.mib_floor(available))

    def host_info(self):
        """host.cpus of the scenario, and SIMULATED_XEN_VERSION."""
        self._call(self.latency.info_s)
        with self.store.session(write=False) as model:
            return base.HostInfo(cpus=model.cpus,
                                 hypervisor_version=SIMULATED_XEN_VERSION,
                                 cores_per_socket=model.cpus)

    def host_memory(self):
        self._call(self.latency.info_s)
        return self._snapshot().host

    def dom0_memory(self):
        self._call(self.latency.dom0_s)
        return self._snapshot().dom0

    def set_dom0_target(self, target_mb):
        call = 'mem-set 0 %sm' % (target_mb,)
        base.check_dom0_target(call, target_mb)
        lat = self.latency
        with self.store.session() as model:
            fault = (target_mb > model.dom0_target_mb and
                     model.take_fault('reinflate', lat.reinflate_faults))
            if not fault:
                model.set_dom0_target(target_mb)
        # Raised after the session, which keeps the fault counted.
        if fault and lat.reinflate_fault == 'hang':
            self._call(lat.fault_hang_s)
            raise exception.ToolstackError(
                call=call, reason='no answer within %g s (simulated hang)'
                % lat.fault_hang_s)
        if fault and lat.reinflate_fault == 'error':
            raise exception.ToolstackError(
                call=call, reason='simulated failure (toolstack.'
                'reinflate_faults)')
        # xl writes the target first; the balloon starts while xl exits.
        self._call(lat.mem_set_s)

    def create_domain(self, spec):
        info = self._build(spec)
        with self.store.session() as model:
            if spec.name in model.domains:
                model.booted(spec.name)
        return info

    def _build(self, spec):
        self._call(self.latency.create_s)
        with self.store.session() as model:
            if spec.name in model.domains:
                raise exception.DomainExists(name=spec.name)
            # A failure to inject is the scenario's, by name (fails_at).
            model.start_build(spec.name, spec.footprint_mb, spec.vcpus,
                              uuid=spec.uuid)
        rate = None
        while True:
            with self.store.session(write=False) as model:
                dom = model.domains.get(spec.name)
                if dom is None:
                    raise exception.BuildFailed(
                        name=spec.name, reason='destroyed while building')
                if dom['state'] == 'running':
                    return self._info(spec.name, dom)
                if dom['state'] == 'crashed':
                    if dom['reason'].startswith('out of memory'):
                        raise exception.OutOfMemory(
                            name=spec.name, need_mb=spec.footprint_mb,
                            free_mb=units.mib_floor(model.free_mb()))
                    raise exception.BuildFailed(name=spec.name,
                                                reason=dom['reason'])
                rate = model.build.populate_rate_mb_s
                remaining = model.remaining_mb(dom)
            self.clock.sleep(min(BUILD_POLL_MAX_S,
                                 max(remaining / rate, 1e-3)))

    def destroy_domain(self, name):
        self._call(self.latency.destroy_s)
        with self.store.session() as model:
            if name not in model.domains:
                raise exception.DomainNotFound(name=name)
            fault = model.take_fault('destroy', self.latency.destroy_faults)
            if not fault:
                model.destroy(name)
        if fault:
            # What the xl backend says of an xl destroy that exits 0 and
            # leaves the domain.
            raise exception.ToolstackError(
                call='destroy %s' % name, reason='the domain is still there '
                'after the destroy (simulated: toolstack.destroy_faults)')

    def list_domains(self):
        self._call(self.latency.list_s)
        with self.store.session(write=False) as model:
            return [self._info(name, dom)
                    for name, dom in sorted(model.domains.items())]

    @staticmethod
    def _info(name, dom):
        return base.DomainInfo(name=name, domid=dom['domid'],
                               memory_mb=units.mib_ceil(dom['populated_mb']),
                               vcpus=dom['vcpus'], state=dom['state'],
                               uuid=dom.get('uuid'))

    # -- the guest lifecycle ----------------------------------------------

    def _domain(self, model, name, states=('running', 'paused')):
        dom = model.domains.get(name)
        if dom is None:
            raise exception.DomainNotFound(name=name)
        if dom['state'] not in states:
            raise exception.ToolstackError(
                call='%s' % name, reason='domain is %s, not %s' % (
                    dom['state'], ' or '.join(states)))
        return dom

    def shutdown_domain(self, name):
        with self.store.session() as model:
            self._domain(model, name)
            model.request_shutdown(name)

    def pause_domain(self, name):
        with self.store.session() as model:
            self._domain(model, name, ('running', 'paused'))
            model.pause(name)

    def unpause_domain(self, name):
        with self.store.session() as model:
            self._domain(model, name, ('paused', 'running'))
            model.unpause(name)

    def console_output(self, name):
        with self.store.session(write=False) as model:
            log = model.consoles.get(name)
        if log is None:
            raise exception.ConsoleUnavailable(
                name=name, reason='the guest has never run on this host')
        return log[-guests.CONSOLE_MAX:]

    def host_uptime(self):
        with self.store.session(write=False) as model:
            now = model.now
        return guests.uptime_text(now, now)

    def save_domain(self, name, path):
        """Pause, write the memory at guest.save_rate_mb_s, destroy."""
        with self.store.session() as model:
            dom = self._domain(model, name)
            model.pause(name)
            image = {'name': name, 'memory_mb': dom['populated_mb'],
                     'vcpus': dom['vcpus'], 'uuid': dom.get('uuid')}
            rate = model.guest.save_rate_mb_s
        self.clock.sleep(image['memory_mb'] / rate)
        # What the toolstack writes: private, like xl's save file.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            json.dump(image, f)
        with self.store.session() as model:
            if name in model.domains:
                model.destroy(name)

    def restore_domain(self, spec, path):
        """Build the domain, then read its memory back.

        Its memory must be free, as for a create; it is read at
        guest.restore_rate_mb_s.
        """
        try:
            with open(path, encoding='utf-8') as f:
                image = json.load(f)
        except (OSError, ValueError) as err:
            raise exception.BuildFailed(
                name=spec.name, reason='cannot read saved memory %s: %s' % (
                    path, err))
        if image.get('name') != spec.name:
            raise exception.BuildFailed(
                name=spec.name, reason='%s holds the memory of %r' % (
                    path, image.get('name')))
        self._build(spec)
        with self.store.session(write=False) as model:
            rate = model.guest.restore_rate_mb_s
        self.clock.sleep(spec.footprint_mb / rate)
        with self.store.session() as model:
            if spec.name not in model.domains:
                raise exception.BuildFailed(
                    name=spec.name, reason='destroyed while restoring')
            model.console_write(spec.name, ('PM: restore of devices '
                                            'complete',))
            return self._info(spec.name, model.domains[spec.name])
