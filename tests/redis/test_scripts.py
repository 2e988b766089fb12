"""The Lua registry: every script loads and runs by name, its header names what its body reads, and the
states it names are the ones of ffgate.generations.states."""

from __future__ import annotations

import re
from importlib import resources

import pytest
import redis.asyncio as aioredis

from ffgate.generations.states import State
from ffgate.redis import scripts
from ffgate.redis.scripts import Script, source

pytestmark = pytest.mark.anyio


def body_of(name: str) -> str:
    """The script file as written (no libraries, no prologue)."""
    return (resources.files("ffgate.redis") / "lua" / f"{name}.lua").read_text()


@pytest.mark.parametrize("name", scripts.names())
def test_every_name_a_body_reads_is_declared_and_every_declared_name_is_read(name: str) -> None:
    src, body = source(name), body_of(name)
    assert set(re.findall(r"\bK\.(\w+)", body)) == set(src.keys)
    assert set(re.findall(r"\bA\.(\w+)", body)) == set(src.args)
    assert "ARGV[" not in body and "KEYS[" not in body


@pytest.mark.parametrize("name", scripts.names())
async def test_every_script_compiles_in_redis(redis: aioredis.Redis, name: str) -> None:
    sha = await redis.script_load(source(name).text)
    assert (await redis.script_exists(sha)) == [True]


def test_the_lua_states_are_the_python_states() -> None:
    lua = (resources.files("ffgate.redis") / "lua" / "lib" / "states.lua").read_text()
    declared: dict[str, str] = {}
    for names, values in re.findall(r"^local ([A-Z_, ]+) = ('.*')$", lua, re.MULTILINE):
        for n, v in zip(names.split(","), values.split(","), strict=True):
            declared[n.strip()] = v.strip().strip("'")
    assert declared == {s.name: s.value for s in State}


@pytest.mark.parametrize("name", scripts.names())
def test_no_script_spells_a_state_out(name: str) -> None:
    body = body_of(name)
    assert not set(re.findall(r"'([a-z]+)'", body)) & {s.value for s in State}


async def test_a_wrong_argument_name_is_refused_before_redis(redis: aioredis.Redis) -> None:
    claim = Script(redis, "claim_due")
    with pytest.raises(TypeError, match="claim_due takes KEYS"):
        await claim(keys={"schedule": "s"}, args={"now": 1, "limit": 1})
    assert await claim(keys={"schedule": "s"}, args={"now": 1, "limit": 1, "lease_end": 2}) == []


async def test_a_flushed_script_cache_is_reloaded(redis: aioredis.Redis) -> None:
    claim = Script(redis, "claim_due")
    await redis.script_flush()
    await redis.zadd("s", {"poll:x": 0})
    assert await claim(keys={"schedule": "s"}, args={"now": 1, "limit": 5, "lease_end": 9}) == [b"poll:x"]
