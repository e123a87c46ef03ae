"""The simulation: a modelled Xen host and what runs on it.

- model.py: the host's memory over simulated time (no clock inside);
  scenario.py reads its YAML into specs.py's sections, checked by
  fields.py; store.py keeps a model between looks (in memory, or in a
  file for the CLI).
- backend.py: the ``simulated`` hypervisor backend (entry point) over a
  store; host.py wires a driver to it.
- runner.py: ``simulate`` on one host, strategy by strategy
  (strategies/: ours and the toolstacks' own waits); fleet.py: a
  multi-host scenario placed by the reference scheduler.

Nothing below this package imports it; [simulator] options live in
conf/simulator.py with every other option.
"""
