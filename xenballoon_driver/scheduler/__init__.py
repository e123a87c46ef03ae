"""A balloon-aware scheduler, shaped like Nova's filter scheduler.

host_state.py: what the scheduler knows of a host (from the driver's
get_available_resource), updated as requests are placed. filters.py:
BalloonMemoryFilter. weighers.py: BalloonTimeWeigher and Nova's
normalisation. manager.py: the reference scheduler, select_destinations.
"""
