"""[xenballoon] options: dom0's floor and how the balloon wait behaves."""

import copy
import os

from oslo_config import cfg

from xenballoon_driver.conf import num


def _default_state_dir():
    if os.geteuid() == 0:
        return '/var/lib/xenballoon'
    return os.path.expanduser('~/.local/state/xenballoon')


xenballoon_group = cfg.OptGroup(
    'xenballoon', title='dom0 ballooning',
    help='How the driver balloons dom0 down for a new guest, how it decides '
         'that ballooning is still making progress, and when it gives up.')

xenballoon_opts = [
    num.IntOpt('dom0_min_memory_mb', default=4096, min=256, max=1 << 30,
               help='dom0 is never asked to go below this many MiB. Keep it '
                    'above where dom0\'s balloon stalls (what dom0 cannot '
                    'free; not sysfs info/low_kb, the memory IN it): a '
                    'lower target stalls the balloon, and a much lower one '
                    'can kill dom0. A request that does not fit with dom0 at '
                    'this floor is refused before dom0 is touched.'),
    num.FloatOpt('poll_interval', default=0.45, min=0.01, max=60.0,
                 help='The longest gap, in seconds, between two looks at '
                      'dom0 while waiting for the balloon (the cheap ones: '
                      'sysfs for xl; looks at free memory are placed by '
                      'the ETA and the stall deadline). It bounds how late '
                      'a stall is seen: within stall_timeout + 0.5 s at '
                      '0.45 s, within stall_timeout + this + 0.05 s when '
                      'longer. Looks come more often as the memory nears '
                      'its goal.'),
    num.FloatOpt('min_poll_interval', default=0.05, min=0.001, max=60.0,
                 help='The shortest gap, in seconds, between two looks at '
                      'dom0. Each look costs a toolstack call; keep this '
                      'above that call\'s latency on real hosts.'),
    num.FloatOpt('stall_timeout', default=5.0, min=0.1, max=3600.0,
                 help='Seconds over which ballooning must make at least '
                      'min_progress_mb_s of progress. Slower than that for '
                      'this long counts as a stall: the spawn fails with a '
                      '"balloon stalled" error and dom0 is re-inflated. '
                      'Where dom0\'s balloon driver can be seen (the xl '
                      'backend reads its sysfs and /proc/meminfo), a pause '
                      'while it backs off or cancelled itself with '
                      'reclaimable memory left is not a stall '
                      '(backoff_budget_s, max_nudges), and a true stall (at '
                      'its low mark, nothing left to reclaim, or at its '
                      'target with a shortfall beyond max_shortfall_mb) is '
                      'reported within this + 0.5 s. 5 s, as xapi\'s '
                      'squeezed. Backends that cannot see it use '
                      'blind_stall_timeout.'),
    num.FloatOpt('blind_stall_timeout', default=35.0, min=0.0, max=3600.0,
                 help='The stall timeout in force, instead of a shorter '
                      'stall_timeout, where the backend cannot see dom0\'s '
                      'balloon driver although it may pause: libvirt, and '
                      'xl without a trusted sysfs directory. Such a '
                      'backend judges by progress alone, and Linux\'s '
                      'balloon pauses up to max_schedule_delay (32 s by '
                      'default) after a failed page allocation: 35 s waits '
                      'out the longest pause and a look; shorter would fail '
                      'spawns that were going to finish. 0: stall_timeout '
                      'alone (true stalls seen sooner, back-off pauses over '
                      'it fail). The simulator shows its balloon when it '
                      'models one that pauses, and otherwise never pauses: '
                      'it uses stall_timeout.'),
    num.FloatOpt('min_progress_mb_s', default=1.0, min=0.0, max=1.0e6,
                 help='Release rate (MiB/s), averaged over stall_timeout, '
                      'below which ballooning counts as stalled. Either dom0 '
                      'shrinking or free memory growing counts as progress.'),
    num.FloatOpt('max_wait', default=0.0, min=0.0, max=86400.0,
                 help='Optional overall cap, in seconds, on one balloon '
                      'wait. 0 (the default) means no cap: the wait lasts as '
                      'long as ballooning keeps making progress.'),
    num.FloatOpt('backoff_budget_s', default=60.0, min=0.0, max=86400.0,
                 help='Where dom0\'s balloon driver can be seen (the xl '
                      'backend reads its sysfs and /proc/meminfo): how '
                      'many seconds past stall_timeout a pause is waited '
                      'out while the balloon backs off or looks idle with '
                      'reclaimable memory left, before it counts as a '
                      'stall. Linux\'s balloon sleeps up to '
                      'max_schedule_delay (32 s by default, 20 on Debian '
                      '12) after each failed page allocation; 60 s covers '
                      'that step about twice, or Debian\'s whole back-off '
                      '(2 + 4 + 8 s), its cancel and the nudges that '
                      'restart it. Backends that cannot see dom0 '
                      '(libvirt) use stall_timeout alone.'),
    num.IntOpt('max_nudges', default=3, min=0, max=100,
               help='Where dom0\'s balloon driver can be seen: how many '
                    'times in a row, without an answer in between '
                    '(progress, or a new back-off: it woke and tried), a '
                    'balloon that cancelled itself (idle in sysfs for 2 s '
                    'while dom0 is above its target, with reclaimable '
                    'memory left) is restarted by setting dom0\'s target 1 '
                    'MiB off the ledger\'s and back (Linux\'s balloon '
                    'sleeps until the target changes). A balloon that '
                    'wakes, fails and cancels again is nudged again, '
                    'within backoff_budget_s. Each nudge is logged. 0: '
                    'never; such a balloon is then a stall.'),
    num.IntOpt('max_shortfall_mb', default=1024, min=0, max=1 << 30,
               help='When free memory would still be short of what a '
                    'spawn needs with dom0 at its target (an overhead the '
                    'estimate missed: Xen splitting IOMMU superpages keeps '
                    'about 2 MiB per GiB dom0 gives, 192 MiB after 98 GiB '
                    'in the field), dom0 is asked for the shortfall, as '
                    'xl\'s freemem does, through the reservation ledger '
                    '(never below dom0_min_memory_mb; given back with the '
                    'rest on revert or destroy), at most 3 times and at '
                    'most this many MiB per spawn; each top-up is logged '
                    'as a WARNING with its figures. 1024 MiB covers that '
                    'overhead for guests up to 512 GiB. Past it the spawn '
                    'fails as stalled. 0: never.'),
    cfg.StrOpt('dispatch_policy', default='shortest',
               choices=[('shortest', 'memory dom0 releases, and free '
                         'memory not yet handed over, goes first to the '
                         'waiting spawn it completes soonest (the one with '
                         'the least still to come), within the overtaking '
                         'budget of every spawn it passes'),
                        ('fifo', 'spawns are served strictly in the order '
                         'they reserved: a small guest waits behind a big '
                         'one\'s whole balloon')],
               help='Which waiting spawn the memory dom0 releases goes to '
                    'first. Either way nothing is promised twice and '
                    'dom0\'s target is the same: only the order in which '
                    'waiting spawns are served differs.'),
    num.FloatOpt('overtake_budget_s', default=600.0, min=0.0, max=86400.0,
                 help='With dispatch_policy shortest: how many seconds, in '
                      'all, a waiting spawn may be delayed by later spawns '
                      'served before it (their MiB over dom0\'s release '
                      'rate). A later spawn overtakes it only while this '
                      'and overtake_budget_pct both hold. The rate is '
                      'what dom0 released since the oldest waiting '
                      'spawn reserved, per second; until dom0 has '
                      'released something since then, the last rate '
                      'measured is used (none yet: nobody is overtaken). '
                      '600 s at the 2014 report\'s 680 MiB/s is 398 GiB. '
                      'The defaults (600 s, 100 %) keep the mean time to '
                      'ready within 1.05 x the offline optimum on the '
                      'benchmark\'s mixed streams (60 s and 25 %: up to '
                      '1.9 x, doc/benchmark.md). 0: never overtaken '
                      '(fifo).'),
    num.FloatOpt('overtake_budget_pct', default=100.0, min=0.0, max=1000.0,
                 help='With dispatch_policy shortest: later spawns served '
                      'before a waiting spawn total at most this percent of '
                      'its own MiB (at a steady release rate, this percent '
                      'of its balloon time: at 100, at most doubled). A '
                      'later spawn overtakes it only while this and '
                      'overtake_budget_s both hold. 0: never overtaken '
                      '(fifo).'),
    num.IntOpt('free_headroom_mb', default=0, min=0, max=1 << 30,
               help='When no spawn is waiting, keep this many MiB free by '
                    'ballooning dom0 (never below dom0_min_memory_mb), so '
                    'that a guest up to this size starts with no balloon '
                    'wait. Re-established after each spawn, destroy and '
                    'power change, at start-up and on each resource '
                    'report; a spawn takes the headroom first, before '
                    'dom0 is asked for more. The resource report '
                    '(ready_mb) and the scheduler\'s weigher count it as '
                    'memory ready now; placement counts the same memory '
                    'with or without it. While some is held, dom0\'s '
                    'target is the ledger\'s. 0: dom0 keeps all it has '
                    'until a spawn needs it (what it gave up is given '
                    'back).'),
    cfg.BoolOpt('reinflate_on_destroy', default=True,
                help='When a guest is destroyed, grow dom0 back by the '
                     'memory it gave for that guest.'),
    # A plain string: a machine's name may not be a valid DNS name (a
    # bare kernel says "(none)"), and it is only a key here.
    cfg.StrOpt('host', default='',
               help='Name of this compute host: the key of its reservation '
                    'ledger and of its flows in a shared database. 1 to 255 '
                    'printable characters, no control characters, no '
                    'leading or trailing space. Empty (the default): the '
                    'machine\'s hostname when the driver first starts, '
                    'stored in host-id in state_dir and read back from '
                    'there ever after, so that renaming the machine does '
                    'not orphan its guests. Changing it on a host with '
                    'guests makes them unknown to the new name.'),
    cfg.StrOpt('state_dir', default=_default_state_dir(),
               sample_default='/var/lib/xenballoon (root) or '
                              '~/.local/state/xenballoon',
               help='Directory for the driver\'s own state: the reservation '
                    'ledger, its lock file and the simulated host.'),
]


def register_opts(conf):
    # A new group object per ConfigOpts: oslo.config copies a group
    # shallowly, so sharing one would share overrides between them.
    group = copy.deepcopy(xenballoon_group)
    conf.register_group(group)
    conf.register_opts(xenballoon_opts, group=group)


def list_opts():
    return {xenballoon_group: xenballoon_opts}
