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
    with_headers,
)

router = APIRouter(prefix="/v1/admin/clients", tags=["clients"])

_ONE = problem_responses(404)
_ONE_LIVE = problem_responses(404, 409)  # 409: the client is revoked


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    operation_id="createClient",
    responses={201: {"headers": with_headers("Location")}},
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


@router.get("", operation_id="listClients")
async def list_clients(runtime: RuntimeDep, _: Admin) -> ClientList:
    """Every client, revoked ones included, oldest first. Never their keys or secrets."""
    return ClientList(items=[Client.of(c) for c in await runtime.clients.list()])


@router.get("/{clientId}", operation_id="getClient", responses=_ONE)
async def get_client(runtime: RuntimeDep, _: Admin, clientId: str) -> Client:
    """One client."""
    return Client.of(await runtime.clients.get(clientId))


@router.patch("/{clientId}", operation_id="updateClient", responses=_ONE_LIVE)
async def update_client(runtime: RuntimeDep, _: Admin, clientId: str, body: ClientUpdate) -> Client:
    """Change a client's name, scopes, rate limit or daily image quota; from its next request, on every
    gateway. 409 if it is revoked."""
    return Client.of(await runtime.clients.update(clientId, body.changes()))


@router.delete("/{clientId}", operation_id="revokeClient", responses=_ONE)
async def revoke_client(runtime: RuntimeDep, _: Admin, clientId: str) -> Client:
    """Revoke a client: its key stops working at once, on every gateway. Its jobs keep running. Revoking
    twice is harmless; a revoked client cannot be restored (create a new one)."""
    return Client.of(await runtime.clients.revoke(clientId))


@router.post(
    "/{clientId}/rotate",
    operation_id="rotateClientKey",
    responses=_ONE_LIVE,
)
async def rotate_client_key(runtime: RuntimeDep, _: Admin, clientId: str) -> ClientKey:
    """Give the client a new API key, shown in this answer only; the old key stops working at once."""
    return ClientKey.issued(await runtime.clients.rotate(clientId))
