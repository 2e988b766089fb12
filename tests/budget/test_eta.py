"""Queue position and ETA arithmetic (service/eta.py): pure functions, no Redis."""

from __future__ import annotations

import math
import random
import statistics
from dataclasses import replace

import pytest

from ffgate.budget.breaker import BreakerState
from ffgate.budget.eta import Lane, ahead_of, arrival_rate, eta, next_slot, position
from ffgate.budget.fair_queue import RATE_TAU_S, STRIDE
from ffgate.budget.org_budget import BudgetState

NOW = 1_700_000_000.0


def budget(**changes: object) -> BudgetState:
    base = BudgetState(
        now=NOW,
        rpm=60,
        rpd=0,
        burst=1,
        paused_until=NOW,
        pace_at=0.0,
        window=[],
        used_today=0,
        next_midnight=NOW + 3600,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def lane(name: str, pass_: int = 0, queued: int = 0, rate: float = 0.0, weight: int = 1) -> Lane:
    return Lane(name, pass_, STRIDE // weight, queued, rate)


def test_round_robin_position_counts_each_other_clients_turns() -> None:
    own = lane("b", queued=10)
    others = [lane("a", queued=10), lane("c", queued=1)]
    # b's 4th job (rank 3): a sends 4 before it (wins ties), c its one job
    assert position(own, 3, others) == 3 + 4 + 1
    # c's single job: a and b go first (they win the tie at the same pass), and no more of theirs
    assert position(lane("c", queued=1), 0, [lane("a", queued=10), lane("b", queued=10)]) == 2


def test_a_client_further_along_lets_the_others_catch_up() -> None:
    own = lane("a", pass_=5 * STRIDE)
    late = lane("z", pass_=2 * STRIDE, queued=100)
    assert ahead_of(own, 0, late) == 3  # z's picks at 2, 3, 4 strides come first; 5 is a tie z loses
    assert ahead_of(late, 0, own) == 0


def test_weights_scale_the_turns() -> None:
    heavy = lane("heavy", weight=3, queued=100)
    light = lane("light", queued=100)
    assert ahead_of(light, 10, heavy) == 31  # 3 per round for 10 rounds, plus the tie at round 10
    assert ahead_of(heavy, 30, light) == 10


def test_paced_slots_are_one_interval_apart_from_the_next_free_one() -> None:
    b = budget(pace_at=NOW + 0.4)
    assert next_slot(b, NOW, 0) == pytest.approx(0.4)
    assert next_slot(b, NOW, 5) == pytest.approx(5.4)
    assert next_slot(b, NOW, 2.5) == pytest.approx(2.9)
    assert next_slot(budget(), NOW, 0) == 0.0  # idle: now


def test_a_burst_goes_at_once_then_paced() -> None:
    b = budget(burst=4)
    assert [next_slot(b, NOW, n) for n in range(6)] == pytest.approx([0, 0, 0, 0, 1, 2])


def test_the_window_holds_requests_until_its_entries_are_60s_old() -> None:
    sent = [NOW - 50 + i for i in range(10)]  # 10 requests in the last 60 s
    b = budget(rpm=10, burst=0, window=sent)
    assert next_slot(b, NOW, 0) == pytest.approx(10)
    assert next_slot(b, NOW, 9) == pytest.approx(19)
    assert next_slot(b, NOW, 10) == pytest.approx(70)  # a whole minute after the first of these


def test_a_pause_or_an_open_breaker_delays_every_slot() -> None:
    b = budget(paused_until=NOW + 30)
    assert next_slot(b, NOW + 30, 3) == pytest.approx(33)
    breaker = BreakerState(opened_at=NOW - 5, open_until=NOW + 20, probing=False, reason="503")
    assert eta(lane("a"), 2, [], budget(), breaker) == pytest.approx(22)


def test_the_daily_cap_pushes_the_rest_past_midnight() -> None:
    b = budget(rpm=0, rpd=100, used_today=98)
    assert next_slot(b, NOW, 1) == 0
    assert next_slot(b, NOW, 2) == pytest.approx(3600)


def test_eta_counts_the_jobs_light_clients_will_send_meanwhile() -> None:
    own = lane("a", queued=50)
    steady = lane("b", rate=0.25)  # nothing queued now, but a job every 4 s arrives
    # W = (10 + 0.25 W) * 1 s  ->  W = 13.3 s
    assert eta(own, 10, [steady], budget(), None) == pytest.approx(13.33, abs=0.1)
    # no more than its 10 turns before ours, however fast it arrives
    assert eta(own, 10, [lane("b", rate=50)], budget(), None) == pytest.approx(20, abs=0.1)
    assert eta(own, 10, [], budget(), None) == pytest.approx(10)


def arrivals(times: list[float], tau: float = RATE_TAU_S) -> str:
    """The decaying count the enqueue script keeps (lua/lib/enqueue.lua) after arrivals at `times`."""
    count, last = 0.0, times[0]
    for t in times:
        count = count * math.exp(-(t - last) / tau) + 1
        last = t
    return f"{count:.6f} {last:.3f} {times[0]:.3f}"


def test_a_finished_burst_stops_counting_within_a_minute() -> None:
    burst = arrivals([NOW + i * 0.01 for i in range(30)])
    assert arrival_rate(burst, NOW + 1) > 0.5  # while it may go on, it counts
    assert arrival_rate(burst, NOW + 15) < 0.01
    assert arrival_rate(burst, NOW + 60) * 60 < 0.01  # not one job expected in the next minute


def test_a_steady_clients_rate_holds_between_its_arrivals() -> None:
    rng = random.Random(7)
    for per_s in (0.1, 0.3, 0.8):
        t, times = NOW, []
        while t < NOW + 1800:
            t += rng.expovariate(per_s)
            times.append(t)
        # read at random moments after the first 4 minutes, as ETAs are read
        reads = sorted(rng.uniform(NOW + 240, times[-1]) for _ in range(400))
        seen = [arrival_rate(arrivals([x for x in times if x <= at]), at) for at in reads]
        assert statistics.mean(seen) == pytest.approx(per_s, rel=0.1)
        assert statistics.median(seen) == pytest.approx(per_s, rel=0.15)
