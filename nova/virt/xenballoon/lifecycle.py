"""The server lifecycle Nova drives: stop, start, reboot, pause, suspend.

Each call goes to our driver's lifecycle (xenballoon_driver/lifecycle.py):
a stopped or suspended guest keeps its memory reserved in the ledger, so
a start is never refused for memory another spawn took. Resize and
migration are refused before anything moves: Nova puts the server back
as it was and records why.
"""

from oslo_log import log as logging

import nova.conf
from nova import exception as nova_exc

from nova.virt.xenballoon import errors
from nova.virt.xenballoon import vifs as vifs_mod
from xenballoon_driver import validation

CONF = nova.conf.CONF
LOG = logging.getLogger(__name__)

# Nova's own interval between shutdown requests (the compute manager's
# SHUTDOWN_RETRY_INTERVAL), used for a soft reboot too.
SHUTDOWN_RETRY_INTERVAL = 10


def _failed(what):
    """A failure Nova has no exception of its own for."""
    def failure(reason):
        return nova_exc.NovaException(
            message='Failed to %s instance: %s' % (what, reason))
    return failure


def name_of(instance):
    return validation.domain_name(instance.name)


class LifecycleMixin:
    """The lifecycle calls of XenBalloonComputeDriver (self.driver: ours)."""

    def _set_vifs(self, instance, network_info):
        """Record the instance's vifs, used from its next start."""
        vifs = vifs_mod.from_network_info(instance, network_info)
        with errors.nova_errors(instance, _failed('plug vifs')):
            self.driver.set_vifs(name_of(instance), vifs)

    def plug_vifs(self, instance, network_info):
        """Dom0's vif scripts plug a vif when its guest starts: record.

        Nova plugs every instance of the host at start-up: one this host
        does not hold has nothing to record (its power state says so).
        """
        try:
            self._set_vifs(instance, network_info)
        except nova_exc.InstanceNotFound:
            LOG.warning('No guest of this instance on this host: its vifs '
                        'are not recorded', instance=instance)
        except nova_exc.InvalidInput as err:
            # What Nova's start-up handles: the instance in ERROR, why.
            raise nova_exc.VirtualInterfacePlugException(
                err.format_message()) from err

    def unplug_vifs(self, instance, network_info):
        """From the guest's next start, without these vifs.

        No guest (a build that failed, a guest destroyed): its vifs went
        with its domain, nothing is recorded: nothing to do.
        """
        gone = {vif['address'] for vif in network_info or ()}
        try:
            stored = self._stored_vifs(instance)
        except nova_exc.InstanceNotFound:
            return
        keep = [vif for vif in stored if vif['mac'] not in gone]
        with errors.nova_errors(instance,
                                nova_exc.VirtualInterfaceUnplugException):
            self.driver.set_vifs(name_of(instance), keep)

    def _stored_vifs(self, instance):
        _key, entry = self.driver.ledger.guest(name_of(instance))
        if entry is None:
            raise nova_exc.InstanceNotFound(instance_id=instance.uuid)
        return list((entry.get('spec') or {}).get('vifs') or ())

    def power_off(self, instance, timeout=0, retry_interval=0):
        """Clean shutdown within ``timeout`` s, else destroyed; 0: destroy.

        The memory stays reserved for the instance's power_on.
        """
        with errors.nova_errors(instance, nova_exc.InstancePowerOffFailure):
            clean = self.driver.power_off(name_of(instance), timeout,
                                          retry_interval)
        if timeout and not clean:
            LOG.warning('No clean shutdown within %s s: destroyed', timeout,
                        instance=instance)

    def power_on(self, context, instance, network_info,
                 block_device_info=None, accel_info=None, share_info=None):
        self._set_vifs(instance, network_info)
        with errors.nova_errors(instance, nova_exc.InstancePowerOnFailure):
            self.driver.power_on(name_of(instance))

    def resume_state_on_host_boot(self, context, instance, network_info,
                                  share_info, block_device_info=None):
        """The host rebooted: start the guest that was running."""
        self.power_on(context, instance, network_info, block_device_info)

    def reboot(self, context, instance, network_info, reboot_type,
               block_device_info=None, bad_volumes_callback=None,
               accel_info=None, share_info=None):
        """Stop the guest, then start it; its memory stays reserved.

        SOFT: a clean shutdown ([DEFAULT] shutdown_timeout), destroyed if
        the guest does not stop in time; HARD: destroyed at once.
        """
        self._set_vifs(instance, network_info)
        hard = reboot_type == 'HARD'
        with errors.nova_errors(instance, nova_exc.InstanceRebootFailure):
            self.driver.reboot(name_of(instance), hard=hard,
                               timeout=CONF.shutdown_timeout,
                               retry_interval=SHUTDOWN_RETRY_INTERVAL)

    def poll_rebooting_instances(self, timeout, instances):
        """Nothing to do: no reboot of ours is left in progress.

        Our reboot returns when the guest runs again or has failed
        (Nova's libvirt driver polls nothing either).
        """

    def soft_delete(self, instance):
        """Stopped cleanly, its memory and disks kept for a restore.

        What Nova does itself for a driver without soft delete, with a
        clean shutdown ([DEFAULT] shutdown_timeout) first.
        """
        self.power_off(instance, CONF.shutdown_timeout,
                       SHUTDOWN_RETRY_INTERVAL)

    def restore(self, instance):
        """Started again after a soft delete (a running guest: no-op)."""
        with errors.nova_errors(instance, nova_exc.InstancePowerOnFailure):
            self.driver.power_on(name_of(instance))

    def pause(self, instance):
        with errors.nova_errors(instance, _failed('pause')):
            self.driver.pause(name_of(instance))

    def unpause(self, instance):
        with errors.nova_errors(instance, _failed('unpause')):
            self.driver.unpause(name_of(instance))

    def suspend(self, context, instance):
        """Memory saved to disk; the guest's memory stays reserved."""
        with errors.nova_errors(instance, nova_exc.InstanceSuspendFailure):
            self.driver.suspend(name_of(instance))

    def resume(self, context, instance, network_info, block_device_info=None,
               share_info=None):
        self._set_vifs(instance, network_info)
        with errors.nova_errors(instance, nova_exc.InstanceResumeFailure):
            self.driver.resume(name_of(instance))

    def get_console_output(self, context, instance):
        """The guest's console log (its last 100 KiB)."""
        def failure(reason):
            return nova_exc.ConsoleLogOutputException(
                instance_id=instance.uuid, reason=reason)
        with errors.nova_errors(instance, failure):
            return self.driver.console_output(name_of(instance))

    def get_host_uptime(self):
        return self.driver.host_uptime()

    def get_host_ip_addr(self):
        return CONF.my_ip

    def migrate_disk_and_power_off(self, context, instance, dest, flavor,
                                   network_info, block_device_info=None,
                                   timeout=0, retry_interval=0):
        """Refused before anything moves; Nova puts the server back."""
        raise nova_exc.InstanceFaultRollback(
            inner_exception=nova_exc.MigrationPreCheckError(
                reason='xenballoon does not resize or migrate guests: its '
                       'ledger reserves memory for a guest on this host '
                       'only'))
