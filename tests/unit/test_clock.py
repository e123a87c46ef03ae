"""Time sources: the virtual clock's scheduler and the scaled clock."""

import threading
import time

import pytest

from xenballoon_driver import clock as clock_mod


# -- VirtualClock alone -----------------------------------------------------


def test_virtual_sleep_adds_time():
    clock = clock_mod.VirtualClock()
    assert clock.now() == 0.0
    clock.sleep(2.5)
    clock.sleep(0.25)
    assert clock.now() == 2.75


def test_virtual_clock_start_and_non_positive_sleeps():
    clock = clock_mod.VirtualClock(start=10)
    assert clock.now() == 10.0
    clock.sleep(0)
    clock.sleep(-5)
    assert clock.now() == 10.0


def test_virtual_sleep_does_not_really_sleep(wall):
    clock = clock_mod.VirtualClock()
    clock.sleep(3600)
    assert clock.now() == 3600
    assert wall.slept == []


# -- VirtualClock.run ---------------------------------------------------------


def make_job(clock, log, name, sleeps=(), result=None):
    def job():
        log.append((name, 'start', clock.now()))
        for seconds in sleeps:
            clock.sleep(seconds)
            log.append((name, 'woke', clock.now()))
        return result
    return job


def test_jobs_run_one_at_a_time_in_wake_time_order():
    clock = clock_mod.VirtualClock()
    log = []
    results = clock.run([
        (0.0, make_job(clock, log, 'a', [5], 'A')),
        (3.0, make_job(clock, log, 'b', [1, 10], 'B')),
        (1.0, make_job(clock, log, 'c', [], 'C')),
    ])
    assert log == [
        ('a', 'start', 0.0), ('c', 'start', 1.0), ('b', 'start', 3.0),
        ('b', 'woke', 4.0), ('a', 'woke', 5.0), ('b', 'woke', 14.0)]
    assert results == [('A', None), ('B', None), ('C', None)]
    assert clock.now() == 14.0


def test_ties_go_by_arrival():
    clock = clock_mod.VirtualClock()
    log = []
    clock.run([(2.0, make_job(clock, log, name, [1]))
               for name in ('x', 'y', 'z')])
    assert log == [('x', 'start', 2.0), ('y', 'start', 2.0),
                   ('z', 'start', 2.0), ('x', 'woke', 3.0),
                   ('y', 'woke', 3.0), ('z', 'woke', 3.0)]


def test_runs_are_deterministic():
    def once():
        clock = clock_mod.VirtualClock()
        log = []
        jobs = [(i % 3 * 0.5, make_job(clock, log, i, [0.7 * (i % 4), 0.3]))
                for i in range(12)]
        clock.run(jobs)
        return log, clock.now()
    first = once()
    assert len(first[0]) == 36
    for _ in range(5):
        assert once() == first


def test_only_one_job_runs_at_a_time():
    clock = clock_mod.VirtualClock()
    running = []
    overlap = []

    def job():
        for _ in range(20):
            running.append(1)
            if len(running) > 1:
                overlap.append(clock.now())
            # Give up the GIL: another runnable thread would get in here.
            time.sleep(0)
            running.pop()
            clock.sleep(0.1)
    clock.run([(0.0, job) for _ in range(5)])
    assert overlap == []
    assert clock.now() == pytest.approx(2.0)


def test_each_job_sees_its_start_time():
    clock = clock_mod.VirtualClock()
    starts = [7.5, 0.0, 3.25, 100.0]
    results = clock.run([(s, clock.now) for s in starts])
    assert results == [(s, None) for s in starts]
    assert clock.now() == 100.0


def test_exceptions_are_returned_not_raised():
    clock = clock_mod.VirtualClock()
    log = []

    def boom():
        clock.sleep(2)
        raise RuntimeError('job failed at %s' % clock.now())
    ok_job = make_job(clock, log, 'ok', [5], 'fine')
    results = clock.run([(0.0, boom), (1.0, ok_job)])
    (value, err), ok = results
    assert value is None
    assert isinstance(err, RuntimeError)
    assert str(err) == 'job failed at 2.0'
    assert ok == ('fine', None)
    # The failing job handed over: the other one still finished.
    assert log == [('ok', 'start', 1.0), ('ok', 'woke', 6.0)]
    assert clock.now() == 6.0


def test_clock_ends_at_the_last_wake_time():
    clock = clock_mod.VirtualClock(start=1.0)
    clock.run([(2.0, lambda: clock.sleep(30)), (5.0, lambda: None)])
    assert clock.now() == 32.0


def test_a_job_in_the_past_starts_now():
    clock = clock_mod.VirtualClock(start=10.0)
    results = clock.run([(3.0, clock.now)])
    assert results == [(10.0, None)]


def test_empty_run_and_single_threaded_after_a_run():
    clock = clock_mod.VirtualClock()
    assert clock.run([]) == []
    clock.run([(4.0, lambda: clock.sleep(1))])
    assert clock.now() == 5.0
    clock.sleep(2)
    assert clock.now() == 7.0


# -- ScaledClock --------------------------------------------------------------


def test_scaled_now_runs_scale_times_faster(wall):
    start = wall.wall
    clock = clock_mod.ScaledClock(60.0)
    assert clock.epoch == start
    assert clock.now() == 0.0
    wall.wall += 2.5
    assert clock.now() == 150.0


def test_scaled_clocks_sharing_an_epoch_agree(wall):
    first = clock_mod.ScaledClock(10.0)
    wall.wall += 3.0
    second = clock_mod.ScaledClock(10.0, first.epoch)
    assert second.now() == first.now() == 30.0


def test_scaled_epoch_in_the_past(wall):
    clock = clock_mod.ScaledClock(1000.0, epoch=wall.wall - 2.0)
    assert clock.now() == 2000.0


def test_scaled_sleep_divides_by_the_scale(wall):
    clock = clock_mod.ScaledClock(100.0)
    clock.sleep(50)
    clock.sleep(0)
    clock.sleep(-1)
    assert wall.slept == [0.5]
    assert clock.now() == pytest.approx(50.0)


def test_scaled_clock_in_real_time():
    clock = clock_mod.ScaledClock(10000.0)
    start = clock.now()
    clock.sleep(100)                # 0.01 s of real time
    assert clock.now() - start >= 100


def test_real_clock(wall):
    clock = clock_mod.RealClock()
    assert clock.now() == wall.wall
    clock.sleep(0.5)
    clock.sleep(0)
    assert wall.slept == [0.5]


# -- sleep(seconds, wake=event) ----------------------------------------------


def test_a_set_wake_event_cuts_a_real_sleep_short(wall):
    wake = threading.Event()
    wake.set()
    for clock in (clock_mod.RealClock(), clock_mod.ScaledClock(10.0)):
        clock.sleep(3600, wake=wake)
    assert wall.slept == []


def test_a_wake_event_set_by_another_thread_ends_the_sleep():
    clock = clock_mod.RealClock()
    wake = threading.Event()
    threading.Thread(target=wake.set).start()
    start = time.monotonic()
    clock.sleep(3600, wake=wake)
    assert time.monotonic() - start < 60


def test_an_unset_wake_event_sleeps_the_time():
    clock = clock_mod.ScaledClock(10000.0)
    start = clock.now()
    clock.sleep(100, wake=threading.Event())    # 0.01 s of real time
    assert clock.now() - start >= 100


def test_a_virtual_clock_advances_whatever_the_wake_event():
    clock = clock_mod.VirtualClock()
    wake = threading.Event()
    wake.set()
    clock.sleep(5, wake=wake)
    assert clock.now() == 5.0
