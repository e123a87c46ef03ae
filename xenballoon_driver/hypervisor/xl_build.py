"""Building a domain with xl: ``xl create``, and ``xl restore`` of one
that ``xl save`` wrote, for XlHypervisor.

Both hand the side that runs xl the same checked fields, from which it
renders the guest config itself (xl_ops.py); both fail the same way:
DomainExists when xl finds the name taken (that domain is someone
else's and is left alone), OutOfMemory when xl runs short of memory,
BuildFailed for other refusals, ToolstackError when xl cannot be run or
is killed after [xl] create_timeout. Except for DomainExists, whatever
xl left is destroyed before raising.
"""

import os

from oslo_log import log as logging

from xenballoon_driver import exception
from xenballoon_driver.hypervisor import xl_config
from xenballoon_driver.hypervisor import xl_messages

LOG = logging.getLogger(__name__)


class XlBuild:
    """create_domain and restore_domain (see the module docstring)."""

    def create_domain(self, spec):
        """``xl create``; on failure nothing of the domain is left."""
        return self._build(spec, 'xl create <config of %s>' % spec.name,
                           'create_domain')

    def restore_domain(self, spec, path):
        """``xl restore <config of spec> PATH``: create_domain's failures.

        The config is ``spec``'s, rendered as for a create, never the one
        inside the save file. The save file is left for the caller.
        """
        return self._build(spec, 'xl restore <config of %s> %s' % (
            spec.name, path), 'restore_domain', path)

    def _build(self, spec, call, op, *args):
        kernel = xl_config.check_file(self.options.guest_kernel,
                                      '[xl] guest_kernel')
        ramdisk = self.options.guest_ramdisk or None
        if ramdisk:
            xl_config.check_file(ramdisk, '[xl] guest_ramdisk')
        # Refuse bad values here, before anything runs; the side that
        # runs xl checks them again and renders the config itself.
        xl_config.render(spec, kernel, ramdisk)
        fields = {'name': spec.name, 'memory_mb': spec.memory_mb,
                  'vcpus': spec.vcpus, 'guest_type': spec.guest_type,
                  'kernel': kernel, 'ramdisk': ramdisk, 'uuid': spec.uuid,
                  'disks': [dict(d) for d in spec.disks],
                  'vifs': [dict(v) for v in spec.vifs]}
        try:
            return self._built(spec, call, self._run(call, op, fields,
                                                     *args))
        except exception.DomainExists:
            raise
        except exception.ToolstackError as err:
            # Refused by the side that runs xl: xl never ran, and a
            # destroy now would be of someone else's domain.
            if not getattr(err, 'refused', False):
                self._remove_leftover(spec.name)
            raise
        except Exception:
            self._remove_leftover(spec.name)
            raise

    def _built(self, spec, call, result):
        if result.code != 0:
            stderr = result.stderr
            xl_message = xl_messages.message(stderr) or 'no message'
            if xl_messages.says_exists(stderr):
                raise exception.DomainExists(name=spec.name,
                                             reason=xl_message)
            if xl_messages.says_out_of_memory(stderr):
                raise self._out_of_memory(spec, xl_message)
            raise exception.BuildFailed(
                name=spec.name, reason='%s exited %s: %s' % (
                    call, result.code, xl_message), stderr=stderr)
        for info in self.list_domains():
            if info.name == spec.name:
                return info
        raise exception.BuildFailed(
            name=spec.name, reason='%s succeeded but xl list does not show '
                                   'the domain (it died at once?)' % call)

    def _out_of_memory(self, spec, xl_message):
        try:
            free = self.host_memory().usable_mb
            free_text = '%d MiB' % free
        except exception.XenBalloonException:
            free, free_text = None, 'unknown MiB'
        text = ('Out of memory for %s: needs %d MiB, %s free (xl: %s)' % (
            spec.name, spec.footprint_mb, free_text, xl_message))
        return exception.OutOfMemory(text, name=spec.name,
                                     need_mb=spec.footprint_mb, free_mb=free,
                                     reason=xl_message)

    def _remove_leftover(self, name):
        try:
            self.destroy_domain(name)
            LOG.info('Destroyed what xl left of %s after a failed build',
                     name)
        except exception.DomainNotFound:
            pass
        except Exception:
            LOG.exception('Could not destroy what xl left of %s', name)


def remove_partial(path):
    """Remove what a failed ``xl save`` wrote, if this user can."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as err:
        LOG.warning('Could not remove %s after a failed save: %s', path,
                    err)
