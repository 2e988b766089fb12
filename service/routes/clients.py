"""API clients and their keys (scope `admin`). `ffgate clients` does the same from the command line."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from service.deps import Admin, RuntimeDep
from service.schemas import (
    Client,
    ClientCreate,
    ClientCreated,
    ClientKey,
    ClientList,
    ClientUpdate,
    problem_responses,
)

router = APIRouter(prefix="/v1/admin/clients", tags=["clients"])

_READ = problem_responses(401, 403, 404, 429, 503)
_WRITE = problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    operation_id="createClient",
    responses=problem_responses(400, 401, 403, 413, 415, 422, 429, 503),
)
async def create_client(
    runtime: RuntimeDep, _: Admin, body: ClientCreate, response: Response
) -> ClientCreated:
    """Create a client. Its `apiKey` and `webhookSecret` are in this answer only: the key is stored as a
    keyed hash and cannot be shown again (rotate it if lost)."""
    issued = await runtime.clients.create(
        name=body.name,
        scopes=list(body.scopes),
        requests_per_minute=body.rateLimit.requestsPerMinute,
        daily_image_quota=body.dailyImageQuota,
    )
    response.headers["Location"] = f"{router.prefix}/{issued.client.id}"
    return ClientCreated.issued(issued)


@router.get("", operation_id="listClients", responses=problem_responses(401, 403, 429, 503))
async def list_clients(runtime: RuntimeDep, _: Admin) -> ClientList:
    """Every client, revoked ones included, oldest first. Never their keys or secrets."""
    return ClientList(items=[Client.of(c) for c in await runtime.clients.list()])


@router.get("/{clientId}", operation_id="getClient", responses=_READ)
async def get_client(runtime: RuntimeDep, _: Admin, clientId: str) -> Client:
    """One client."""
    return Client.of(await runtime.clients.get(clientId))


@router.patch("/{clientId}", operation_id="updateClient", responses=_WRITE)
async def update_client(runtime: RuntimeDep, _: Admin, clientId: str, body: ClientUpdate) -> Client:
    """Change a client's name, scopes, rate limit or daily image quota; from its next request, on every
    gateway. 409 if it is revoked."""
    return Client.of(await runtime.clients.update(clientId, body.changes()))


@router.delete("/{clientId}", operation_id="revokeClient", responses=_READ)
async def revoke_client(runtime: RuntimeDep, _: Admin, clientId: str) -> Client:
    """Revoke a client: its key stops working at once, on every gateway. Its jobs keep running. Revoking
    twice is harmless; a revoked client cannot be restored (create a new one)."""
    return Client.of(await runtime.clients.revoke(clientId))


@router.post(
    "/{clientId}/rotate",
    operation_id="rotateClientKey",
    responses=problem_responses(401, 403, 404, 409, 429, 503),
)
async def rotate_client_key(runtime: RuntimeDep, _: Admin, clientId: str) -> ClientKey:
    """Give the client a new API key, shown in this answer only; the old key stops working at once."""
    return ClientKey.issued(await runtime.clients.rotate(clientId))
