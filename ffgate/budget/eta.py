"""`queue.position` and `queue.etaSeconds` of a queued generation, computed when it is read.

Position: the jobs that will be sent before it under the fair order (ffgate.budget.fair_queue) as the queues
stand now: the jobs ahead in its own client's queue, plus, for every other client, as many of its waiting
jobs as come before it in the stride order (0: it is next). Reading takes one Redis round trip for any
number of queued jobs (`places`: the queues, the budget and the breaker in one pipeline) and O(clients)
work per job.

ETA: when the budget (ffgate.budget.org_budget) lets that many requests go, counting the pacing, the 60 s
window, the daily cap, a 429 pause and an open breaker. Clients whose queues are shorter than their share
will still send jobs that come before this one: each is expected to send its queue or its recent arrival
rate (a decaying average kept by the queue, forgotten once the client has been silent for several of its
usual gaps: a finished burst) times the wait, whichever is more, up to its turns, and the wait is solved as
a fixed point, so a long queue's ETA does not drift later with every light client's arrival.
Polls that count against the main budget (FFGATE_UPSTREAM_POLLS_COUNT) are not foreseen.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio.client import Pipeline
from redis.exceptions import NoScriptError

from ffgate.budget.breaker import BreakerState
from ffgate.budget.fair_queue import RATE_TAU_S, STRIDE, FairQueue
from ffgate.budget.org_budget import BudgetState
from ffgate.clock import DAY_S
from ffgate.generations.records import Record
from ffgate.generations.states import State, Status
from ffgate.redis.reading import Reading

STOPPED_AFTER = 5.0  # a silence this many of its average gaps long: as likely as not, the client has stopped


@dataclass(frozen=True)
class Lane:
    """One client as the fair order sees it."""

    name: str
    pass_: int  # its virtual time now (for a client with nothing queued: where it would start)
    stride: int
    queued: int
    rate: float  # recent arrivals per second


@dataclass(frozen=True)
class Snapshot:
    """A queued job's place: its client's lane, the jobs ahead of it there, and every other lane."""

    own: Lane
    rank: int
    others: list[Lane]
    back_at: float | None  # while it waits out a back-off: when it rejoins its queue (epoch s)


@dataclass(frozen=True)
class Order:
    """The fair order as it stands: every lane's place, for any number of queued jobs at once."""

    active: dict[str, tuple[int, int]]  # client -> (pass, queued)
    passes: dict[str, int]
    vtime: int
    rates: dict[str, float]
    weights: dict[str, int]

    def lane(self, name: str) -> Lane:
        pass_, queued = self.active.get(name, (max(self.vtime, self.passes.get(name, 0)), 0))
        stride = STRIDE // self.weights.get(name, 1)
        return Lane(name, pass_, stride, queued, self.rates.get(name, 0.0))

    def seen_from(self, client: str, rank: int, back_at: float | None) -> Snapshot:
        names = set(self.active) | {n for n, r in self.rates.items() if r > 1e-3}
        return Snapshot(
            own=self.lane(client),
            rank=rank,
            others=[self.lane(n) for n in sorted(names - {client})],
            back_at=back_at,
        )


async def _read_order(queue: FairQueue, pipe: Pipeline) -> Reading[Order]:
    """Queue the read of the fair order on `pipe`; parse it from its answers after."""
    k = queue.keys
    await queue.lanes(pipe)
    pipe.hgetall(k.queue_passes)
    pipe.get(k.queue_vtime)
    pipe.hgetall(k.queue_rates)

    def parse(answers: list[Any]) -> Order:
        flat, raw_passes, raw_vtime, raw_rates = answers
        now = time.time()
        return Order(
            active={
                flat[i].decode(): (int(float(flat[i + 1])), int(flat[i + 2])) for i in range(0, len(flat), 3)
            },
            passes={c.decode(): int(float(p)) for c, p in raw_passes.items()},
            vtime=int(float(raw_vtime or 0)),
            rates={name.decode(): arrival_rate(raw.decode(), now) for name, raw in raw_rates.items()},
            weights=queue.weights,
        )

    return Reading(4, parse)


def _seen(order: Order, client: str, rank: Any, earlier: Any, back_at: Any) -> Snapshot:
    return order.seen_from(
        client,
        int(rank) if rank is not None else int(earlier),
        float(back_at) if rank is None and back_at is not None else None,
    )


def arrival_rate(raw: str, now: float) -> float:
    """Arrivals per second expected from now on, from the decaying count `ENQUEUE_LUA` keeps: the count over
    its time constant, corrected for a client seen for less than that (but never for less than a quarter of
    it, so one early job does not read as a flood), times the odds that the client is still sending.

    The average alone remembers a burst for minutes: thirty jobs at once read as a job every few seconds long
    after the last one came. But a client that sends `r` jobs a second leaves a silence of `g` seconds only
    with probability exp(-r g): once that silence is many times its usual gap, it has stopped (a finished
    burst), and it counts for nothing. A steady client's usual gaps (r g about 1) keep nearly all of it."""
    count, at, first = (float(x) for x in raw.split())
    silence = max(0.0, now - at)
    decayed = count * math.exp(-silence / RATE_TAU_S)
    seen = max(now - first, RATE_TAU_S / 4)
    rate = decayed / (RATE_TAU_S * (1 - math.exp(-seen / RATE_TAU_S)))
    return rate * still_sending(rate * silence)


def still_sending(missed: float) -> float:
    """The odds that a client is still sending after a silence in which it would have sent `missed` jobs
    on average: prior odds of e^STOPPED_AFTER (it was sending) against a silence of that length, exp(-missed).
    Half at STOPPED_AFTER missed jobs; 0.98 at one, under 0.05 at three more than STOPPED_AFTER."""
    return 1.0 / (1.0 + math.exp(min(missed - STOPPED_AFTER, 50.0)))


def ahead_of(own: Lane, rank: int, other: Lane) -> int:
    """How many jobs `other` would send before job number `rank` (0-based) of `own`, if it had infinitely
    many queued: its picks at virtual times below ours (ties go to the smaller name, as in Redis)."""
    target = own.pass_ + rank * own.stride
    gap = target - other.pass_
    if gap < 0 or (gap == 0 and other.name > own.name):
        return 0
    if other.name < own.name:
        return gap // other.stride + 1
    return -(-gap // other.stride)


def position(own: Lane, rank: int, others: list[Lane]) -> int:
    return rank + sum(min(o.queued, ahead_of(own, rank, o)) for o in others)


def next_slot(budget: BudgetState, blocked_until: float, n: float) -> float:
    """Seconds from `budget.now` until the budget lets the request after the next `n` go (n may be a
    fraction: expected counts are interpolated)."""
    low = _slot(budget, blocked_until, math.floor(n))
    if n == math.floor(n):
        return low
    high = _slot(budget, blocked_until, math.floor(n) + 1)
    return low + (high - low) * (n - math.floor(n))


def _slot(b: BudgetState, blocked_until: float, n: int) -> float:
    start = max(b.now, blocked_until)
    at = start
    interval = 60.0 / b.rpm if b.rpm else 0.0
    if b.rpm:
        laps, j = divmod(n, b.rpm)  # the window repeats every rpm requests, 60 s later
        base = start
        if b.burst:
            # GCRA: after an idle spell `burst` go at once, then one every interval
            base = max(base, max(b.pace_at, start) + (j - b.burst + 1) * interval)
        i = len(b.window) + j - b.rpm  # this request frees the window's i-th entry
        if 0 <= i < len(b.window):
            base = max(base, b.window[i] + 60.0)
        at = base + 60.0 * laps
    if b.rpd:
        left = b.rpd - b.used_today
        if n >= left:
            days, i = divmod(n - left, b.rpd)
            at = max(at, b.next_midnight + days * DAY_S + i * interval)
    return max(0.0, at - b.now)


def eta(
    own: Lane,
    rank: int,
    others: list[Lane],
    budget: BudgetState,
    breaker: BreakerState | None,
    rounds: int = 50,
) -> float:
    """Seconds until the job is sent: the least W with W = slot(jobs before it within W)."""
    blocked = budget.paused_until
    if breaker is not None:
        blocked = max(blocked, breaker.open_until, budget.now + (5.0 if breaker.probing else 0.0))
    caps = [(o, ahead_of(own, rank, o)) for o in others]

    def sent_before(wait: float) -> float:
        # A client sends what it has queued or what its rate brings in meanwhile, whichever is more (its
        # queue is made of recent arrivals: adding both would count a burst twice), up to its turns.
        return rank + sum(min(cap, max(o.queued, o.rate * wait)) for o, cap in caps)

    wait = next_slot(budget, blocked, sent_before(0.0))
    for _ in range(rounds):
        after = next_slot(budget, blocked, sent_before(wait))
        if abs(after - wait) < 0.01:
            return after
        wait = after
    return wait


async def estimate(queue: FairQueue, record: Record) -> tuple[int, float]:
    """(position, seconds until sent) of a queued job, from the queues and the budget as they are now."""
    place = (await places(queue, [record]))[0]
    return (place.position, place.eta_s) if place else (0, 0.0)


@dataclass(frozen=True)
class QueuePlace:
    """Where a queued job stands: jobs to be sent before it, and seconds until it is sent."""

    position: int
    eta_s: float


async def places(queue: FairQueue | None, records: list[Record]) -> list[QueuePlace | None]:
    """The place of every queued job of `records` (None for the others), from one snapshot of the queues,
    the budget and the breaker: one Redis round trip however many there are (none if none is queued)."""
    queued = [r for r in records if r.status == Status.QUEUED]
    if queue is None or not queued:
        return [None] * len(records)
    k = queue.keys
    pipe = queue.redis.pipeline(transaction=False)
    order_read = await _read_order(queue, pipe)
    budget_read = queue.budget.read_into(pipe)
    breaker_read = queue.breaker.read_into(pipe)
    waiting = [r for r in queued if r.state == State.QUEUED]  # `sending`: it is being sent
    for r in waiting:
        pipe.zrank(k.queue(r.client_id), r.id)
        pipe.zcount(k.queue(r.client_id), "-inf", f"({(r.enqueued_at or time.time())!r}")
        pipe.zscore(k.schedule, f"submit:{r.id}")
        pipe.hget(k.generation(r.id), "state")  # claimed since `r` was read: its `submit:` is a send lease
    try:
        answers = await pipe.execute()
    except NoScriptError:  # Redis restarted or failed over: its script cache is empty
        queue.forget_loaded_scripts()
        return await places(queue, records)
    a, b = order_read.size, order_read.size + budget_read.size
    c = b + breaker_read.size
    order, budget, breaker = order_read(answers[:a]), budget_read(answers[a:b]), breaker_read(answers[b:c])
    found: dict[str, QueuePlace] = {}
    sending = QueuePlace(position=0, eta_s=0.0)
    for i, r in enumerate(waiting):
        rank, earlier, back_at, state = answers[c + 4 * i : c + 4 * i + 4]
        if state is None or state.decode() != State.QUEUED:  # being sent, or gone on since
            found[r.id] = sending
            continue
        snap = _seen(order, r.client_id, rank, earlier, back_at)
        wait = eta(snap.own, snap.rank, snap.others, budget, breaker)
        if snap.back_at is not None:
            wait = max(wait, snap.back_at - budget.now)
        found[r.id] = QueuePlace(position=position(snap.own, snap.rank, snap.others), eta_s=wait)
    return [found.get(r.id, sending) if r.status == Status.QUEUED else None for r in records]


async def queue_place(queue: FairQueue | None, record: Record) -> QueuePlace | None:
    """None unless the job is queued."""
    return (await places(queue, [record]))[0]
