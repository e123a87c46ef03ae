"""Where a simulated host lives between two looks at it.

MemoryStore keeps the model in this process on a given clock (tests,
benchmarks, ``simulate``). FileStore keeps it in a JSON file behind an
inter-process lock, on a ScaledClock, so that separate CLI commands see one
host whose dom0 goes on ballooning between them.
"""

import contextlib
import copy
import json
import os
import tempfile

from xenballoon_driver import clock as clock_mod
from xenballoon_driver import exception
from xenballoon_driver import locks
from xenballoon_driver.simulator import model as model_mod
from xenballoon_driver.simulator import scenario as scenario_mod

STATE_VERSION = 1
# A read-only look saves the host when its saved state is this old.
REFRESH_S = 10.0
REQUIRED_KEYS = {'scenario', 'epoch', 'time_scale', 'model'}
# What of a HostModel is saved: its state, not its scenario's figures.
MODEL_KEYS = ('now', 'total_mb', 'xen_mb', 'dom0_low_mb', 'dom0_mb',
              'dom0_target_mb', 'released_mb', 'release_start',
              'first_request_at', 'grown_back', 'contention_s',
              'contention_by_name', 'stuck', 'stall_began_at',
              'peak_committed_mb', 'domains',
              'next_domid')
# Added later: a state file saved before has none.
OPTIONAL_MODEL_KEYS = {'faults_used': dict, 'consoles': dict,
                       # dom0's page cache and balloon thread (None: not
                       # modelled, as in a state saved before them).
                       'dom0_cache_mb': type(None), 'bp': type(None),
                       'dom0_starved_at': type(None),
                       # dom0's drift and a stall's resume (issue 12).
                       'drifted': bool, 'resume_at': type(None)}


def model_state(model):
    """A HostModel's state, JSON-ready."""
    state = {key: copy.deepcopy(getattr(model, key)) for key in MODEL_KEYS}
    for key in OPTIONAL_MODEL_KEYS:
        state[key] = copy.deepcopy(getattr(model, key))
    return state


def set_model_state(model, state):
    """Set a HostModel to a state ``model_state`` returned."""
    for key in MODEL_KEYS:
        setattr(model, key, copy.deepcopy(state[key]))
    for key, make in OPTIONAL_MODEL_KEYS.items():
        setattr(model, key, copy.deepcopy(state.get(key, make())))


class MemoryStore:
    def __init__(self, model, clock):
        self.model = model
        self.clock = clock

    @contextlib.contextmanager
    def session(self, write=True):
        self.model.advance(self.clock.now())
        yield self.model


class FileStore:
    def __init__(self, path, scenario, time_scale=1.0):
        self.path = path
        self.lock_path = locks.file_path(os.path.abspath(path))
        with self._locked():
            state = self._read()
            if state is None:
                state = {'version': STATE_VERSION,
                         'scenario': scenario.to_dict(),
                         'epoch': None, 'time_scale': time_scale,
                         'model': model_state(model_mod.HostModel(scenario))}
                self.clock = clock_mod.ScaledClock(time_scale)
                state['epoch'] = self.clock.epoch
                self._write(state)
            else:
                self.clock = clock_mod.ScaledClock(state['time_scale'],
                                                   state['epoch'])
                if state['time_scale'] != time_scale:
                    # Keep simulated time continuous across a new scale.
                    now = self.clock.now()
                    self.clock = clock_mod.ScaledClock(time_scale)
                    self.clock.epoch -= now / time_scale
                    state['time_scale'] = time_scale
                    state['epoch'] = self.clock.epoch
                    self._write(state)
        self.scenario = scenario_mod.from_dict(state['scenario'], path)

    def _locked(self):
        return locks.locked(self.lock_path)

    def _read(self):
        try:
            with open(self.path, encoding='utf-8') as f:
                state = json.load(f)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            raise exception.InvalidInput(
                what='simulator state file %s' % self.path,
                reason='%s; remove it to start a fresh host' % err)
        if not isinstance(state, dict) or state.get(
                'version') != STATE_VERSION or not REQUIRED_KEYS <= set(
                    state) or not isinstance(state['model'], dict) or not (
                    set(MODEL_KEYS) <= set(state['model'])):
            raise exception.InvalidInput(
                what='simulator state file %s' % self.path,
                reason='unknown format; remove it to start a fresh host')
        return state

    def _write(self, state):
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix='.simulated-')
        # No fsync: a simulated host needs to survive its process being
        # killed (os.replace is atomic), not the machine losing power.
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            json.dump(state, f)
        os.replace(tmp, self.path)

    @contextlib.contextmanager
    def session(self, write=True):
        """The host at the current simulated time.

        A read-only session (write=False) saves nothing unless the saved
        state is over REFRESH_S behind: the host at any time follows from
        the saved state, so looks need not rewrite the file each time.
        """
        with self._locked():
            state = self._read()
            model = model_mod.HostModel(self.scenario)
            set_model_state(model, state['model'])
            saved_at = model.now
            model.advance(self.clock.now())
            yield model
            if write or model.now - saved_at > REFRESH_S:
                state['model'] = model_state(model)
                self._write(state)
