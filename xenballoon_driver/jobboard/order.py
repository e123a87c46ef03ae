"""The order in which our boards hand out jobs.

Highest priority first, then the oldest (lowest sequence) first, so that
under a backlog no request waits behind every later one. taskflow's
Redis board lists the newest first.
"""

from taskflow.jobs import base as jobs_base

RANK = {priority: rank for rank, priority in enumerate(
    jobs_base.JobPriority)}


def oldest_first(jobs):
    return sorted(jobs, key=lambda job: (RANK[job.priority], job.sequence))
