"""Tasks that touch the reservation ledger."""

import dataclasses

from oslo_log import log as logging

from xenballoon_driver.hypervisor import base
from xenballoon_driver.tasks import common
from xenballoon_driver.tasks import host

LOG = logging.getLogger(__name__)


class ReserveMemory(common.QuietTask, host.HostTask):
    """Reserve the domain's memory; refuse before dom0 is touched."""

    def execute(self, spec, request_id):
        spec = base.DomainSpec.from_dict(spec)
        began = self.backend.clock.now()
        res = self.ledger.reserve(self.backend, spec.name, spec.footprint_mb,
                                  res_id=request_id,
                                  memory_mb=spec.memory_mb,
                                  spec=spec.to_dict())
        LOG.info('Reserved %d MiB for %s: %d MiB from free memory, %d MiB '
                 'from dom0 (target %d MiB)', res.need_mb, spec.name,
                 res.from_free_mb, res.from_dom0_mb, res.dom0_target_mb)
        result = dataclasses.asdict(res)
        if res.free_mb is not None:
            # The wait takes this look as its first (a full look is
            # toolstack calls: seconds on a slow host).
            result['looked_at_s'] = self.backend.clock.now()
            result['look_s'] = result['looked_at_s'] - began
        return result

    def revert(self, result, **kwargs):
        if not isinstance(result, dict):
            return  # reserve itself failed: nothing was written
        common.safely('releasing reservation %s' % result['id'],
                      self.ledger.release, result['id'])
        common.safely('restoring dom0 target',
                      self.ledger.apply_target, self.backend)
