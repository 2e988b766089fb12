"""Every Lua script ffgate runs, loaded from the `*.lua` files beside this module (package data).

Each script file starts with a header that names what it takes:

    -- What the script does.
    -- uses: states window          (files of lua/lib/ prepended, in this order)
    -- KEYS: record schedule
    -- ARGV: allowed to now fields...   (a last name ending in '...' takes every remaining argument)

From the header the registry writes a prologue, `local K = {record = KEYS[1], ...}` and
`local A = {allowed = ARGV[1], ...}` (the rest as a list), so a body reads `K.record` and `A.allowed`, and
callers pass the same names: a missing or unknown name is a `TypeError` before anything reaches Redis.
Scripts run by EVALSHA; redis-py's registered scripts load the text again when Redis answers NOSCRIPT.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

_HEADER = re.compile(r"^-- (uses|KEYS|ARGV):(.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Source:
    name: str
    keys: tuple[str, ...]
    args: tuple[str, ...]
    rest: str | None  # the name of the trailing variable arguments, if any
    text: str  # libraries + prologue + body: what Redis runs


def _read(*parts: str) -> str:
    return resources.files("ffgate.redis").joinpath("lua", *parts).read_text(encoding="utf-8")


@functools.cache
def source(name: str) -> Source:
    body = _read(f"{name}.lua")
    header = {kind: value.split() for kind, value in _HEADER.findall(body)}
    keys, args = tuple(header.get("KEYS", [])), list(header.get("ARGV", []))
    rest = args.pop()[:-3] if args and args[-1].endswith("...") else None
    libs = [_read("lib", f"{lib}.lua") for lib in header.get("uses", [])]
    prologue = [
        "local K = {" + ", ".join(f"{k} = KEYS[{i}]" for i, k in enumerate(keys, 1)) + "}",
        "local A = {" + ", ".join(f"{a} = ARGV[{i}]" for i, a in enumerate(args, 1)) + "}",
    ]
    if rest:
        prologue.append(f"local {rest} = {{}}")
        prologue.append(f"for i = {len(args) + 1}, #ARGV do {rest}[#{rest} + 1] = ARGV[i] end")
    return Source(name, keys, tuple(args), rest, "\n".join([*libs, *prologue, body]))


def names() -> list[str]:
    """Every script of the registry (the `*.lua` files, libraries aside)."""
    folder = resources.files("ffgate.redis").joinpath("lua")
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".lua"))


class Script:
    """One registered script, called with its KEYS and ARGV by name."""

    def __init__(self, redis: aioredis.Redis, name: str) -> None:
        self.source = source(name)
        self._redis = redis
        self._script = redis.register_script(self.source.text)
        self._loaded = False  # known to be in Redis's script cache (for pipelines)

    async def __call__(
        self,
        keys: Mapping[str, str],
        args: Mapping[str, Any],
        rest: Sequence[Any] = (),
        client: aioredis.Redis | None = None,
    ) -> Any:
        src = self.source
        if keys.keys() != set(src.keys) or args.keys() != set(src.args):
            raise TypeError(
                f"script {src.name} takes KEYS {list(src.keys)} and ARGV {list(src.args)}, "
                f"not {list(keys)} and {list(args)}"
            )
        if rest and src.rest is None:
            raise TypeError(f"script {src.name} takes no variable arguments")
        keys_, args_ = [keys[k] for k in src.keys], [*(args[a] for a in src.args), *rest]
        if isinstance(client, Pipeline):
            # redis-py's pipeline asks SCRIPT EXISTS first, every time: one more round trip. Loaded once,
            # the script goes by EVALSHA alone; after a Redis restart or failover, the pipeline answers
            # NoScriptError once (`forget_loaded`) and the next one loads it again.
            if not self._loaded:
                await self._redis.script_load(src.text)
                self._loaded = True
            client.evalsha(self._script.sha, len(keys_), *keys_, *args_)
            return None
        return await self._script(keys=keys_, args=args_, client=client)

    def forget_loaded(self) -> None:
        self._loaded = False
