"""Scale-out: spawns posted as jobs on taskflow's jobboard (issue 14).

board.py opens a host's board; posting.py saves a flow and posts its job,
and waits for it; conductor.py is taskflow's conductor with its engines
built by our flow registry, its claims kept alive.
"""
