"""Names of every Redis key ffgate writes, in one place (RQ keeps its own `rq:` keys)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str

    def generation(self, gen_id: str) -> str:
        return f"{self.prefix}gen:{gen_id}"

    @property
    def schedule(self) -> str:
        """Sorted set of due work: members `poll:<id>` / `submit:<id>`, scored by when they are due."""
        return f"{self.prefix}schedule"

    @property
    def durations(self) -> str:
        """Recent upstream job durations (seconds), newest first, that the poll planners learn from."""
        return f"{self.prefix}durations"

    @property
    def wake(self) -> str:
        """Channel that tells the workers' dispatchers new work is due now (a submit, a delivery)."""
        return f"{self.prefix}wake"

    def dispatch_memo(self, member: str) -> str:
        """What one dispatch call claimed, kept a minute: the same call sent again after its answer was lost
        (a cut connection, a frozen Redis) answers the same claims instead of claiming more."""
        return f"{self.prefix}dispatched:{member}"

    def delivery(self, webhook_id: str) -> str:
        """One webhook message (an event of a job): its attempt count, body once built, and outcome."""
        return f"{self.prefix}delivery:{webhook_id}"

    def delivery_log(self, gen_id: str) -> str:
        """Every delivery attempt for a job, oldest first (JSON items)."""
        return f"{self.prefix}deliveries:{gen_id}"

    # --- stored outputs (ffgate.generations.outputs) ------------------------------------------------------

    def object_refs(self, sha256: str) -> str:
        """The generations whose outputs are the stored object `sha256`, scored by when each record expires:
        the object may go once no score is in the future."""
        return f"{self.prefix}objref:{sha256}"

    @property
    def object_refs_prefix(self) -> str:
        return self.object_refs("")

    def reuse(self, scope: str, fingerprint: str) -> str:
        """The stored succeeded generation a seeded request with this fingerprint is answered from; `scope`
        is the client id, or `*` for the index shared across clients."""
        return f"{self.prefix}reuse:{scope}:{fingerprint}"

    @property
    def reuse_prefix(self) -> str:
        return f"{self.prefix}reuse:"

    @property
    def sweep_lock(self) -> str:
        return f"{self.prefix}sweep-lock"

    # --- API clients (ffgate.clients.store) ------------------------------------------------------------

    def client(self, client_id: str) -> str:
        return f"{self.prefix}client:{client_id}"

    @property
    def clients(self) -> str:
        """Sorted set of every client id (revoked ones too), scored by creation time."""
        return f"{self.prefix}clients"

    def api_key(self, digest: str) -> str:
        """The client id of the API key whose keyed hash is `digest` (the key itself is never stored)."""
        return f"{self.prefix}apikey:{digest}"

    @property
    def pepper_id(self) -> str:
        """A fingerprint of the key pepper the gateways run with, so `ffgate clients` can check its own."""
        return f"{self.prefix}pepper-id"

    def client_window(self, client_id: str) -> str:
        """The client's requests of the last 60 s (sliding window, see ffgate.budget.org_budget)."""
        return f"{self.prefix}ratelimit:{client_id}"

    def client_images(self, client_id: str, day: str) -> str:
        return f"{self.prefix}images:{client_id}:{day}"

    def client_generations(self, client_id: str) -> str:
        """The client's generations, scored by creation order, for listing its own."""
        return f"{self.prefix}client-gens:{client_id}"

    def idempotency(self, client_id: str, key: str) -> str:
        return f"{self.prefix}idem:{client_id}:{hashlib.sha256(key.encode()).hexdigest()[:32]}"

    def events(self, gen_id: str) -> str:
        return f"{self.prefix}events:{gen_id}"

    @property
    def events_pattern(self) -> str:
        return f"{self.prefix}events:*"

    def models(self, published_state: str) -> str:
        return f"{self.prefix}models:{published_state}"

    @property
    def model_records(self) -> str:
        """Hash: assetId -> the operator's record of that custom model (ffgate.upstream.model_records)."""
        return f"{self.prefix}model-records"

    def access_token(self, token_digest: str) -> str:
        """A token from the gateway's `/ims/token` (ffgate.clients.access_tokens): the key hash it is for."""
        return f"{self.prefix}access-token:{token_digest}"

    def models_lock(self, published_state: str) -> str:
        return f"{self.prefix}models-lock:{published_state}"

    def ims_token(self, client_id: str) -> str:
        return f"{self.prefix}ims:token:{_digest(client_id)}"

    def ims_lock(self, client_id: str) -> str:
        return f"{self.prefix}ims:lock:{_digest(client_id)}"

    def upstream_window(self, client_id: str) -> str:
        return f"{self.prefix}upstream:minute:{_digest(client_id)}"

    def upstream_day(self, client_id: str, day: str) -> str:
        return f"{self.prefix}upstream:day:{_digest(client_id)}:{day}"

    def upstream_pause(self, client_id: str) -> str:
        return f"{self.prefix}upstream:pause:{_digest(client_id)}"

    def upstream_pace(self, client_id: str) -> str:
        """When the next request may go if requests are spaced evenly (GCRA's theoretical arrival time)."""
        return f"{self.prefix}upstream:pace:{_digest(client_id)}"

    def upstream_reads_window(self, client_id: str) -> str:
        """The separate budget of status polls and model listings (unless they count against the main one)."""
        return f"{self.prefix}upstream:reads:{_digest(client_id)}"

    def upstream_reads_pause(self, client_id: str) -> str:
        return f"{self.prefix}upstream:reads-pause:{_digest(client_id)}"

    def breaker(self, client_id: str) -> str:
        """Circuit breaker of a credential: `openUntil`, `probeUntil`, `openedAt` (epoch ms), `reason`."""
        return f"{self.prefix}upstream:breaker:{_digest(client_id)}"

    def breaker_failures(self, client_id: str) -> str:
        """Recent failed submits in a row (epoch ms), cleared by any answer from Firefly."""
        return f"{self.prefix}upstream:failures:{_digest(client_id)}"

    def queue(self, client: str) -> str:
        """One API client's waiting jobs: generation ids scored by when they were queued (FIFO)."""
        return f"{self.prefix}queue:{client}"

    @property
    def queue_prefix(self) -> str:
        return self.queue("")

    @property
    def queue_clients(self) -> str:
        """Clients with waiting jobs, scored by their virtual time (pass) in the fair order."""
        return f"{self.prefix}queues"

    @property
    def queue_passes(self) -> str:
        """Each client's pass when its queue last emptied, so leaving and rejoining gains nothing."""
        return f"{self.prefix}queues:passes"

    @property
    def queue_vtime(self) -> str:
        """The pass of the job dispatched last: where a client joining the fair order starts."""
        return f"{self.prefix}queues:vtime"

    @property
    def queue_rates(self) -> str:
        """Each client's recent arrival rate (decaying average), for ETAs: `<rate> <at>` per client."""
        return f"{self.prefix}queues:rates"


def _digest(value: str) -> str:
    # Key names show up in monitoring tools; the client id is not a secret, but it need not be spelled out.
    return hashlib.sha256(value.encode()).hexdigest()[:16]
