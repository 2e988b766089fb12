"""`AsyncClient`: the asyncio client, the same as `Client` (`_sync`) with `await`: operations are the shared
ones of `_core`; only sending and sleeping are written here."""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncGenerator, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any, Self, TypeVar, cast

import httpx

from ffgate_client import _core
from ffgate_client._base import ClientBase
from ffgate_client._core import (
    DEFAULT_TEMPLATE,
    DEFAULT_TIMEOUT,
    DEFAULT_URL,
    DOWNLOAD_CHUNK,
    Attempts,
    Call,
    EventStream,
    Operation,
    ProgressCallback,
    RetryPolicy,
    Sink,
    Watch,
)
from ffgate_client.models import Event, Generation, GenerationPage, Model

T = TypeVar("T")


class AsyncClient(ClientBase):
    """An asyncio client of one gateway. Use it as an async context manager, or `await close()`.

    `url` is the gateway (default http://127.0.0.1:8080), `key` the caller's API key. `transport` is
    handed to httpx (tests pass a mock or a proxy)."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        key: str | None = None,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(url, key, timeout=timeout, retry=retry)
        self._http = httpx.AsyncClient(base_url=self.url, headers=self._headers, transport=transport)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    # --- sending ----------------------------------------------------------------------------------------

    async def _send(self, call: Call) -> httpx.Response:
        attempts = Attempts(self.retry, call)
        while True:
            attempts.start()
            try:
                response = await self._http.request(**self._args(call))
            except httpx.TransportError as exc:
                await asyncio.sleep(attempts.after_error(exc))
                continue
            delay = attempts.after_response(response)
            if delay is None:
                return response
            await asyncio.sleep(delay)

    async def _run(self, operation: Operation[T]) -> T:
        try:
            call = next(operation)
            while True:
                call = operation.send(await self._send(call))
        except StopIteration as done:
            return cast(T, done.value)

    # --- models -----------------------------------------------------------------------------------------

    async def models(
        self, *, training_mode: str | None = None, published_state: str | None = None, refresh: bool = False
    ) -> list[Model]:
        """The custom models the gateway's Adobe credential can see (published ones unless asked)."""
        return await self._run(_core.models_op(training_mode, published_state, refresh))

    async def model(self, asset_id: str) -> Model:
        """One model by assetId; ModelNotFound if the gateway sees none."""
        return await self._run(_core.model_op(asset_id))

    async def resolve_model(self, model: str) -> str:
        """The assetId of `model`, given as an assetId (`urn:...`, used as it is) or a displayName."""
        return await self._run(_core.resolve_model_op(model))

    # --- generations ------------------------------------------------------------------------------------

    async def generate(
        self,
        prompt: str,
        *,
        model: str,
        n: int | None = None,
        seeds: Sequence[int] | None = None,
        size: str | tuple[int, int] | Mapping[str, int] | None = None,
        model_version: str | None = None,
        webhook: str | Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> Generation:
        """Queue a generation with `model` (assetId or displayName) and return it (status `queued`).

        `size` is "WxH", (w, h) or {"width", "height"}; `webhook` a URL or {"url", "events"}; `options` any
        other Firefly field (e.g. {"contentClass": "photo"}). The submit carries `idempotency_key` (a new
        random one when None), so retrying it can never queue a second generation."""
        body = self._generate_body(
            prompt,
            n=n,
            seeds=seeds,
            size=size,
            model_version=model_version,
            webhook=webhook,
            metadata=metadata,
            options=options,
        )
        key = idempotency_key or _core.new_idempotency_key()
        return await self._run(_core.generate_op(model, body, key))

    async def get(self, generation: str | Generation) -> Generation:
        return await self._run(_core.get_op(_core.generation_id(generation)))

    async def pages(
        self, *, status: str | None = None, page_size: int = 50
    ) -> AsyncGenerator[GenerationPage, None]:
        """The caller's generations, newest first, page by page, each fetched when reached."""
        cursor: str | None = None
        while True:
            page = await self._run(_core.page_op(status, page_size, cursor))
            yield page
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def list(
        self, *, status: str | None = None, page_size: int = 50
    ) -> AsyncGenerator[Generation, None]:
        """Every one of the caller's generations (optionally in one `status`), newest first, across pages."""
        async for page in self.pages(status=status, page_size=page_size):
            for item in page.items:
                yield item

    async def cancel(self, generation: str | Generation) -> Generation:
        """Ask for the generation to be canceled (Conflict if it is already terminal)."""
        return await self._run(_core.cancel_op(_core.generation_id(generation)))

    async def watch(
        self,
        generation: str | Generation,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - it bounds a series of long-polls, not one await
        poll_s: float = 30,
    ) -> AsyncGenerator[Generation, None]:
        """The generation now, then again at every change of status (and at least every `poll_s` seconds,
        so a queued one's position and ETA stay fresh), until it is terminal or `timeout` has passed."""
        plan = Watch(timeout, poll_s)
        current = generation if isinstance(generation, Generation) else await self.get(generation)
        yield current
        while (wait_s := plan.next_wait(current)) is not None:
            current = await self._run(_core.get_op(current.id, wait_s, current.status))
            yield current

    async def wait(
        self,
        generation: str | Generation,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - it bounds a series of long-polls, not one await
        poll_s: float = 30,
    ) -> Generation:
        """The generation once terminal (long-polling); WaitTimeout after `timeout` seconds."""
        plan = Watch(timeout, poll_s)
        last = generation if isinstance(generation, Generation) else await self.get(generation)
        async for seen in self.watch(last, timeout=timeout, poll_s=poll_s):
            last = seen
        return plan.finish(last)

    async def events(
        self, generation: str | Generation, *, last_event_id: str | None = None
    ) -> AsyncGenerator[Event, None]:
        """The generation's server-sent events, from its current state to the terminal one. A dropped
        connection is resumed with Last-Event-ID; pass `last_event_id` to resume an earlier iteration."""
        stream = EventStream(_core.generation_id(generation), last_event_id, self.retry)
        while not stream.done:
            call = stream.call()
            try:
                async with self._http.stream(**self._args(call)) as response:
                    if not response.is_success:
                        await response.aread()
                        await asyncio.sleep(stream.retry_after_response(call, response))
                        continue
                    async for line in response.aiter_lines():
                        event = stream.feed(line)
                        if event is not None:
                            yield event
                            if stream.done:
                                return
            except httpx.TransportError as exc:
                await asyncio.sleep(stream.retry_after_error(call, exc))
                continue
            await asyncio.sleep(stream.retry_after_error(call, None))

    async def download(
        self,
        generation: str | Generation,
        directory: str | PathLike[str],
        *,
        template: str = DEFAULT_TEMPLATE,
        progress: ProgressCallback | None = None,
    ) -> builtins.list[Path]:
        """Save every output of the generation in `directory`; the paths, in output order.

        Names come from `template` ({id}, {index}, {n}, {seed}, {ext}). Each file is written under a
        temporary name and renamed once complete and checked against the size and SHA-256 the output
        carries (when it does): a file under its final name is never partial."""
        if isinstance(generation, str):
            generation = await self.get(generation)
        targets = _core.plan_downloads(generation, Path(directory), template, self.url)
        return [await self._download(target, progress) for target in targets]

    async def _download(self, target: _core.DownloadTarget, progress: ProgressCallback | None) -> Path:
        call = _core.download_call(target)
        attempts = Attempts(self.retry, call, _core.download_failed)
        while True:
            attempts.start()
            try:
                with Sink(target, progress) as sink:
                    async with self._http.stream(**self._args(call)) as response:
                        if response.is_success:
                            sink.start(response)
                            async for chunk in response.aiter_bytes(DOWNLOAD_CHUNK):
                                sink.write(chunk)
                            return sink.finish()
                        await response.aread()
                        delay = attempts.after_response(response)
                        if delay is None:
                            raise _core.download_refused(target, response)
            except httpx.TransportError as exc:
                delay = attempts.after_error(exc)
            await asyncio.sleep(delay)

    def __repr__(self) -> str:
        return f"AsyncClient({self.url!r})"
