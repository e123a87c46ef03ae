"""Spawn several guests at once from one process, one thread each.

    python spawn_batch.py CONFIG NAME:MIB [NAME:MIB ...]

Prints "ready" once set up and waits for a line on stdin (so that several
processes start together, however long their start-up took), then prints
one JSON line per request: name, outcome ('running' or the exception's
class), error, and the simulated times it started and ended.
"""

import json
import sys
import threading

from xenballoon_driver.cmd import base
from xenballoon_driver import driver as driver_mod
from xenballoon_driver import exception


def main(argv):
    conf_path, requests = argv[0], argv[1:]
    drv = driver_mod.XenBalloonDriver(base.load_conf([conf_path]))
    drv.init_host(recover=False)
    clock = drv.backend.clock
    results = []
    print('ready', flush=True)
    sys.stdin.readline()

    def spawn(name, memory_mb):
        started = clock.now()
        try:
            drv.spawn(name, memory_mb)
            outcome, error = 'running', ''
        except exception.XenBalloonException as err:
            outcome, error = type(err).__name__, str(err)
        results.append({'name': name, 'outcome': outcome, 'error': error,
                        'started_s': started, 'ended_s': clock.now()})

    threads = [threading.Thread(target=spawn, args=(name, int(mib)))
               for name, mib in (r.split(':') for r in requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        print(json.dumps(result))


if __name__ == '__main__':
    main(sys.argv[1:])
