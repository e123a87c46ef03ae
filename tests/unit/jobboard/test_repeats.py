"""The conductor's loop log: one traceback per message per period."""

import logging
import sys

from xenballoon_driver.jobboard import conductor


def _record(msg, args=(), traceback=True):
    exc_info = None
    if traceback:
        try:
            raise RuntimeError('board away')
        except RuntimeError:
            exc_info = sys.exc_info()
    return logging.LogRecord('loop', logging.ERROR, __file__, 1, msg, args,
                             exc_info)


def test_a_repeated_traceback_passes_once_per_period_with_a_count():
    now = [100.0]
    repeats = conductor.Repeats(30.0, clock=lambda: now[0])
    passed = []
    for step in range(12):  # one look every 5 s for a minute
        record = _record('Transient job board failure %s', ('x',))
        if repeats.filter(record):
            passed.append((now[0], record.getMessage()))
        now[0] += 5.0
    assert passed == [
        (100.0, 'Transient job board failure x'),
        (130.0, 'Transient job board failure x (5 more like it in the '
                'last 30 s)'),
    ]


def test_other_messages_and_lines_without_traceback_all_pass():
    now = [0.0]
    repeats = conductor.Repeats(30.0, clock=lambda: now[0])
    assert repeats.filter(_record('Transient job board failure'))
    assert repeats.filter(_record('Job dispatch submitting failed: %s',
                                  ('job-1',)))
    assert not repeats.filter(_record('Transient job board failure'))
    for job in ('job-1', 'job-2', 'job-2'):
        assert repeats.filter(_record('Job %s completed', (job,),
                                      traceback=False))
