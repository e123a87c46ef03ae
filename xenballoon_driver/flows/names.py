"""The names a flow's tasks pass data by (taskflow's requires/provides).

Each flow module declares, where it adds a task, what the task requires
and provides, by these names (as Octavia's flows do with its constants).
Persisted logbooks store values under them, and a resumed flow finds its
inputs by them: never rename one.
"""

# The flows' inputs, put in the engine's store by the driver.
SPEC = 'spec'                   # DomainSpec.to_dict() of the guest to build
NAME = 'name'                   # the guest to destroy
REQUEST_ID = 'request_id'       # the flow's id (engine.run); names its hold
# A power-off's: seconds to wait for a clean shutdown (0: destroy at
# once), between two requests of it (0: one), and a suspend's file.
TIMEOUT = 'timeout'
RETRY_INTERVAL = 'retry_interval'
SAVE_PATH = 'save_path'

# What the spawn flow's tasks provide.
RESERVATION = 'reservation'     # the ledger's Reservation, as a dict
BALLOON_REPORT = 'balloon_report'  # how the wait went: waited_s, released_mb
DOMAIN = 'domain'               # the built domain's DomainInfo, as a dict

# What the destroy flow provides.
DOM0_TARGET_AFTER = 'dom0_target_after'  # dom0's target, MiB, or None

# What the power-off flow's tasks provide.
STOPPING = 'stopping'           # the stopped entry's id, its state before
POWER_OFF = 'power_off'         # clean (bool) and saved (path or None)
