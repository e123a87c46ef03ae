"""The host-wide reservation ledger, and dom0's target derived from it.

arithmetic.py: the document and the pure sums over it (dom0's derived
target, the host's figures, what is promised). operations.py: Ledger,
every change under the ledger's lock (power.py: stop and start; audit.py:
what reconcile reads and cleans). dispatch.py: which waiting spawn
free memory goes to first. debts.py: what the host is owed.
headroom.py: memory kept free for the next guest.
store.py: where the document is kept. reconcile.py: the audit against
the host, and the report of debts paid.
"""

from xenballoon_driver.ledger.arithmetic import BUILDING
from xenballoon_driver.ledger.arithmetic import DESTROYING
from xenballoon_driver.ledger.arithmetic import DOMAIN
from xenballoon_driver.ledger.arithmetic import empty
from xenballoon_driver.ledger.arithmetic import Figures
from xenballoon_driver.ledger.arithmetic import Reservation
from xenballoon_driver.ledger.arithmetic import RESERVED
from xenballoon_driver.ledger.arithmetic import STOPPED
from xenballoon_driver.ledger.arithmetic import upgrade
from xenballoon_driver.ledger.debts import Debt
from xenballoon_driver.ledger.debts import DESTROY_DEBT
from xenballoon_driver.ledger.debts import DOM0_DEBT
from xenballoon_driver.ledger.debts import DOM0_NAME
from xenballoon_driver.ledger.debts import one_line
from xenballoon_driver.ledger.dispatch import Policy
from xenballoon_driver.ledger.operations import Ledger
from xenballoon_driver.ledger.store import DocumentStorage
from xenballoon_driver.ledger.store import MemoryStorage

__all__ = ['BUILDING', 'Debt', 'DESTROY_DEBT', 'DESTROYING', 'DOM0_DEBT',
           'DOM0_NAME', 'DOMAIN', 'DocumentStorage', 'empty', 'Figures',
           'Ledger', 'MemoryStorage', 'one_line', 'Policy', 'RESERVED',
           'Reservation', 'STOPPED', 'upgrade']
