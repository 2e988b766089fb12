"""What `Client` and `AsyncClient` hold alike: where the gateway is, the key, timeouts and the retry policy,
and how a `Call` becomes the arguments of an httpx request."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Self

import httpx

from ffgate_client import _core
from ffgate_client._core import DEFAULT_TIMEOUT, DEFAULT_URL, Call, RetryPolicy

__version__ = "0.1.0"


class ClientBase:
    def __init__(
        self,
        url: str = DEFAULT_URL,
        key: str | None = None,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
    ) -> None:
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(f"the gateway URL must be http(s)://host[:port], not '{url}'")
        self.url = str(parsed).rstrip("/")
        self.key = key
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout, connect=5.0)
        self.retry = retry or RetryPolicy()
        self._headers = {"User-Agent": f"ffgate-client/{__version__} httpx/{httpx.__version__}"}

    @classmethod
    def from_env(cls, **kwargs: Any) -> Self:
        """A client for FFGATE_URL (default http://127.0.0.1:8080) with the key in FFGATE_KEY."""
        return cls(os.environ.get("FFGATE_URL", DEFAULT_URL), os.environ.get("FFGATE_KEY"), **kwargs)

    def _args(self, call: Call) -> dict[str, Any]:
        headers = dict(call.headers)
        if call.to_gateway and self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        timeout = self.timeout
        if call.read_timeout_s is not None:
            t = self.timeout
            timeout = httpx.Timeout(connect=t.connect, read=call.read_timeout_s, write=t.write, pool=t.pool)
        return {
            "method": call.method,
            "url": call.url,
            "params": call.params,
            "json": call.json,
            "headers": headers,
            "timeout": timeout,
            "follow_redirects": call.follow_redirects,
        }

    @staticmethod
    def _generate_body(
        prompt: str,
        *,
        n: int | None,
        seeds: Sequence[int] | None,
        size: str | tuple[int, int] | Mapping[str, int] | None,
        model_version: str | None,
        webhook: str | Mapping[str, Any] | None,
        metadata: Mapping[str, Any] | None,
        options: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        return _core.generation_body(
            prompt,
            "",
            n=n,
            seeds=seeds,
            size=size,
            model_version=model_version,
            webhook=webhook,
            metadata=metadata,
            options=options,
        )
