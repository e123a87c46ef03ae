"""The [xenballoon] options the real-Xen driver tests run their flows with.

test_xl_driver.py sets them on the driver; fit.py replays the recorded
flows on the simulator with the same, so they are written once, here.
"""

# dom0's floor in tests (a)-(c): far above where its balloon stalls.
SAFE_MIN_MB = 512
DRIVER_OPTIONS = {'dom0_min_memory_mb': SAFE_MIN_MB, 'poll_interval': 0.45,
                  'min_poll_interval': 0.45, 'stall_timeout': 10.0,
                  'min_progress_mb_s': 1.0}
# The stall test (d) lowers the floor to libxl's range so that dom0's
# balloon stalls before it; its stall_timeout and min_progress_mb_s are
# recorded with its measurements.
STALL_DOM0_MIN_MB = 256
