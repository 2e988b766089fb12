"""When the worker asks Firefly about a job next (worker/poll_plan.py)."""

from __future__ import annotations

import time

import pytest

from tests.redis_db import make_settings
from worker.poll_plan import PollPlanner

FIRST_S, INTERVAL_S, TAIL_S, MAX_S = 2.0, 2.5, 1.0, 15.0
SAMPLES = 200


def planner() -> PollPlanner:
    return PollPlanner(
        make_settings(
            poll_first_s=FIRST_S, poll_interval_s=INTERVAL_S, poll_tail_s=TAIL_S, poll_max_interval_s=MAX_S
        )
    )


def delays(plan: PollPlanner, elapsed: float, *, first: bool = False) -> list[float]:
    return [plan.next_delay(elapsed, first=first) for _ in range(SAMPLES)]


def around(values: list[float], center: float) -> bool:
    """Every value within the planner's +-10% jitter of `center` (and 10 ms for the clock moving on)."""
    return all(0.9 * center - 0.01 <= v <= 1.1 * center + 0.01 for v in values)


def test_without_samples_the_first_poll_comes_after_poll_first_s() -> None:
    assert around(delays(planner(), 0.0, first=True), FIRST_S)


def test_without_samples_later_polls_come_every_poll_interval_s() -> None:
    plan = planner()
    assert around(delays(plan, 2.0), INTERVAL_S)
    assert around(delays(plan, 40.0), INTERVAL_S)


def test_delays_are_jittered_so_jobs_submitted_together_spread_out() -> None:
    values = delays(planner(), 5.0)
    assert max(values) - min(values) > 0.1 * INTERVAL_S
    assert len(set(values)) > SAMPLES // 2


def test_a_young_job_waits_until_it_is_as_old_as_the_oldest_running_one() -> None:
    plan = planner()
    plan.seen_running("old", submitted_at=time.time() - 12.0)
    plan.seen_running("older-but-finished", submitted_at=time.time() - 14.0)
    plan.finished("older-but-finished")

    assert around(delays(plan, 2.0), 10.0)
    assert around(delays(plan, 0.0, first=True), 12.0)
    # a job nearly that old is polled at the usual pace
    assert around(delays(plan, 11.0), INTERVAL_S)


def test_the_wait_for_the_oldest_running_job_is_capped() -> None:
    plan = planner()
    plan.seen_running("old", submitted_at=time.time() - 100.0)
    assert around(delays(plan, 2.0), MAX_S)


def test_once_the_oldest_finishes_young_jobs_poll_at_the_usual_pace() -> None:
    plan = planner()
    plan.seen_running("old", submitted_at=time.time() - 12.0)
    plan.finished("old")
    assert around(delays(plan, 2.0), INTERVAL_S)


def test_too_few_samples_teach_nothing() -> None:
    plan = planner()
    plan.learn([30.0, 30.0])
    assert around(delays(plan, 0.0, first=True), FIRST_S)


def learned() -> PollPlanner:
    plan = planner()
    # 11 recent durations, 10..30 s: the 10th percentile is 12 s
    plan.learn([float(d) for d in range(30, 9, -2)])
    return plan


def test_with_learned_durations_the_first_poll_jumps_to_the_expected_duration() -> None:
    plan = learned()
    assert plan.expected() == 12.0
    assert around(delays(plan, 0.0, first=True), 12.0)
    assert around(delays(plan, 5.0), 7.0)


def test_the_jump_to_the_expected_duration_never_overshoots_it() -> None:
    values = delays(learned(), 0.0, first=True)
    assert max(values) <= 12.0
    assert min(values) >= 0.9 * 12.0 - 0.01


def test_a_job_seen_running_teaches_halfway_between_the_last_two_looks() -> None:
    assert planner().sample(100.0, last_running_at=118.0, done_at=120.0) == 19.0


def test_a_job_found_finished_at_its_first_look_teaches_a_little_less_than_that_look_not_half() -> None:
    # Half (10 s) would move the first look of every later job to 10 s, polled ever more slowly from there.
    assert planner().sample(100.0, last_running_at=None, done_at=120.0) == 20.0 - TAIL_S


def test_a_first_look_that_came_late_teaches_no_longer_duration_than_expected() -> None:
    plan = learned()  # expects 12 s
    assert plan.sample(100.0, last_running_at=None, done_at=130.0) == 12.0 - TAIL_S
    assert plan.sample(100.0, last_running_at=None, done_at=108.0) == 8.0 - TAIL_S


def test_past_the_expected_duration_polls_are_brisk() -> None:
    assert around(delays(learned(), 12.0), TAIL_S)


def test_the_longer_a_job_is_overdue_the_slower_it_is_polled() -> None:
    plan = learned()
    slightly = delays(plan, 14.0)
    late = delays(plan, 32.0)
    very_late = delays(plan, 600.0)
    assert max(slightly) < min(late)
    assert max(late) < min(very_late)
    assert all(TAIL_S * 0.9 <= v <= MAX_S * 1.1 for v in slightly + late + very_late)
    assert around(very_late, MAX_S)


def test_replacing_the_samples_forgets_the_old_ones() -> None:
    plan = learned()
    plan.learn([40.0, 41.0, 42.0], replace=True)
    assert plan.expected() == 40.0
    assert around(delays(plan, 0.0, first=True), 40.0)


@pytest.mark.parametrize("elapsed", [0.0, 5.0, 11.5, 12.0, 20.0, 1000.0])
def test_a_delay_is_always_positive(elapsed: float) -> None:
    assert min(delays(learned(), elapsed)) > 0
