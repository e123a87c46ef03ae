"""``xenballoon host-status``."""

from xenballoon_driver.cmd import base


class HostStatus(base.ShowOne):
    """Show the host's memory in MiB, as the driver sees it.

    available_mb = free_mb + balloonable_mb - reserved_mb (plus memory dom0
    is still releasing); balloonable_mb is what dom0 can give down to
    dom0_min_mb. ready_mb is free memory promised to nobody (a guest up
    to it builds with no balloon wait); headroom_from_dom0_mb is what dom0
    gave up to keep [xenballoon] free_headroom_mb free.
    """

    def take_action(self, parsed_args):
        driver = self.driver()
        status = driver.host_status()
        status['backend'] = driver.conf.hypervisor.driver
        status['domains'] = len(driver.list_domains())
        names = sorted(status)
        return names, [status[n] for n in names]
