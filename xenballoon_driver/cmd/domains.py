"""``xenballoon spawn``, ``destroy`` and ``list``."""

import dataclasses

from xenballoon_driver.cmd import as_job
from xenballoon_driver.cmd import base
from xenballoon_driver.cmd import jobs
from xenballoon_driver.cmd import progress
from xenballoon_driver.cmd import signals
from xenballoon_driver import exception
from xenballoon_driver.flows import destroy as destroy_flow
from xenballoon_driver.flows import names as names_mod
from xenballoon_driver.flows import spawn as spawn_flow
from xenballoon_driver.jobboard import posting
from xenballoon_driver import lifecycle
from xenballoon_driver import validation


class Spawn(base.ShowOne):
    """Create a guest, ballooning dom0 down as far as it needs.

    Exits 2 on bad input, 3 when the host cannot fit the guest, 4 when
    dom0's balloon stalls, 5 when the build fails, 9 when the state
    directory or the flow database cannot be used. SIGINT (Ctrl-C),
    SIGHUP and SIGTERM stop the spawn at its balloon wait and exit 128 +
    the signal's number (130, 129, 143); one that comes during the build
    lets the guest finish and says so. On every failure dom0 is
    re-inflated and nothing is left behind.

    With [jobboard] enabled the spawn is posted as a job for the host's
    xenballoon-conductor: --async prints the job's id at once; without
    it the command waits for the job's result (a signal then stops the
    wait only: the job goes on).
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('name', help='domain name: a letter, then '
                                         'letters, digits, "_", "." or "-"')
        parser.add_argument('--memory-mb', required=True,
                            help='guest memory in MiB (whole number)')
        parser.add_argument('--vcpus', default='1', help='vCPU count')
        parser.add_argument('--type', dest='guest_type', default='pv',
                            choices=validation.GUEST_TYPES,
                            help='guest type (sets Xen\'s overhead)')
        return as_job.add_async(parser)

    def take_action(self, parsed_args):
        if self.conf().jobboard.enabled:
            return self._as_job(parsed_args)
        if parsed_args.post_only:
            jobs.jobboard_enabled(self.conf())
        name = parsed_args.name
        with signals.caught() as received:
            driver = self.driver()
            display = progress.BalloonProgress(name, self.app.stderr)
            clock = driver.backend.clock
            started = clock.now()
            try:
                if received.event.is_set():
                    raise exception.SpawnSignalled(name=name,
                                                   **received.details())
                # A signal stops the balloon wait, inside a task, so the
                # flow reverts as on any failure.
                info = driver.spawn(name, parsed_args.memory_mb,
                                    parsed_args.vcpus,
                                    parsed_args.guest_type,
                                    progress=display, cancel=received.event)
            except exception.SpawnCancelled:
                raise exception.SpawnSignalled(name=name,
                                               **received.details())
            finally:
                display.close()
        if received.event.is_set():
            # Too late to stop: the domain was built before the wait saw
            # the signal. Say so rather than exit as if all went well.
            raise exception.SpawnSignalledLate(name=name,
                                               **received.details())
        row = dataclasses.asdict(info)
        row['ready_after_s'] = round(clock.now() - started, 2)
        names = sorted(row)
        return names, [row[n] for n in names]

    def _as_job(self, parsed_args):
        with signals.caught() as received:
            driver = self.driver()
            spec = posting.spawn_spec(parsed_args.name,
                                      parsed_args.memory_mb,
                                      parsed_args.vcpus,
                                      parsed_args.guest_type)
            clock = driver.backend.clock
            started = clock.now()
            job, flow_id, results = as_job.post_and_wait(
                self, driver, received, parsed_args.post_only,
                spawn_flow.FLOW_NAME, {names_mod.SPEC: spec.to_dict()},
                'spawn', spec.name)
        if results is None:
            return as_job.posted(job, flow_id, spec.name)
        row = dict(results[names_mod.DOMAIN])
        row['ready_after_s'] = round(clock.now() - started, 2)
        row['job_id'] = job.uuid
        keys = sorted(row)
        return keys, [row[k] for k in keys]


class Destroy(as_job.JobCommand):
    """Destroy a guest; dom0 grows back if reinflate_on_destroy is set.

    Exits 2 on bad input, 6 when there is no such guest, 7 when the
    toolstack fails, 8 while the guest's spawn is still running, 9 when
    the state directory or the flow database cannot be used. SIGINT,
    SIGHUP and SIGTERM do not cut a destroy in half: it finishes, then
    the command exits 128 + the signal's number (130, 129, 143). With
    -v, a line on stderr says when the destroy starts.

    With [jobboard] enabled the destroy is posted as a job for the
    host's xenballoon-conductor, once the guest is known there: --async
    prints the job's id at once; without it the command waits for the
    job's result (a signal then stops the wait only: the job goes on).
    """

    def _say(self, name):
        if self.app.options.verbose_level > 0:
            self.app.stderr.write('destroy: destroying %s\n' % name)
            self.app.stderr.flush()

    @staticmethod
    def _row(name, target):
        return ('name', 'dom0_target_mb'), (name, target)

    def direct(self, parsed_args):
        name = parsed_args.name
        # A destroy is short and must not be cut in half: a signal waits
        # until its flow has finished.
        with signals.caught() as received:
            driver = self.driver()
            self._say(name)
            try:
                target = driver.destroy(name)
            except exception.XenBalloonException as err:
                if not received.event.is_set():
                    raise
                outcome = 'it failed: %s' % err
            else:
                outcome = 'it succeeded, dom0 target %d MiB' % target
        if received.event.is_set():
            raise exception.DestroySignalled(name=name, outcome=outcome,
                                             **received.details())
        return self._row(name, target)

    def plan(self, driver, parsed_args):
        name = parsed_args.name
        lifecycle.destroy_check(driver, name)
        self._say(name)
        return as_job.Plan(
            destroy_flow.FLOW_NAME, {names_mod.NAME: name}, 'destroy',
            lambda results: self._row(
                name, results[names_mod.DOM0_TARGET_AFTER]),
            args={'reinflate': driver.conf.xenballoon.reinflate_on_destroy})


class ListDomains(base.Lister):
    """List guests (dom0 excluded), stopped and suspended ones too.

    A stopped guest shows domid -1 and state shutoff (suspended: saved
    to disk); its memory stays reserved for it.
    """

    COLUMNS = ('name', 'domid', 'memory_mb', 'vcpus', 'state')

    def take_action(self, parsed_args):
        rows = [tuple(getattr(info, c) for c in self.COLUMNS)
                for info in self.driver().list_guests()]
        return self.COLUMNS, rows
