"""add_event.lua reads its arguments by name, and the names are one table (storage.add_event): these tests fail as
soon as the Python side and the Lua body drift (a field renamed, added, dropped or reordered on one side only)."""

from __future__ import annotations

import json
import re
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from storage.add_event import (
    ENTITIES_FIELD,
    ENTITY_GROUP,
    AddEventArgs,
    AddEventKeys,
    header,
    script_body,
    script_source,
)
from storage.aggregates import AggregateStore, ScoredItem
from storage.redis_keys import ALL_ENTITIES

LUA_KEYWORDS = {"and", "break", "do", "else", "elseif", "end", "false", "for", "function", "if", "in", "local"}
LUA_KEYWORDS |= {"nil", "not", "or", "repeat", "return", "then", "true", "until", "while"}
LUA_GLOBALS = {"redis", "tonumber", "tostring", "ipairs", "pairs", "string", "table", "math", "type", "cjson"}
TABLE_NAMES = {f.name for f in fields(AddEventKeys)} | {f.name for f in fields(AddEventArgs)}


def _code_only(lua: str) -> str:
    """The Lua source without comments and string literals (the body uses neither long strings nor long comments)."""
    lua = re.sub(r"--[^\n]*", "", lua)
    return re.sub(r"'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"", "''", lua)


def problems(body: str) -> list[str]:
    """What makes a Lua body disagree with the named-argument table (empty: they agree)."""
    code = _code_only(body)
    found: list[str] = []
    if re.search(r"\b(KEYS|ARGV)\b", code):
        found.append("the body reads KEYS or ARGV itself")
    declared = set(re.findall(r"\blocal\s+([A-Za-z_]\w*)", code))
    declared |= {name for group in re.findall(r"\bfor\s+([\w\s,]+?)\s*(?:=|\bin\b)", code) for name in group.split(",")}
    declared = {name.strip() for name in declared}
    found += [f"local {name} shadows an argument" for name in sorted(declared & TABLE_NAMES)]
    used = {m.group(1) for m in re.finditer(r"(?<![.:\w])([A-Za-z_]\w*)", code)}
    unknown = used - LUA_KEYWORDS - LUA_GLOBALS - declared - TABLE_NAMES - {"_"}
    found += [f"{name} is not an argument, a local or a Lua global" for name in sorted(unknown)]
    found += [f"argument {name} is never read" for name in sorted(TABLE_NAMES - used)]
    return found


def test_the_body_reads_exactly_the_names_of_the_table() -> None:
    assert problems(script_body()) == []


def test_the_check_catches_drift_either_way() -> None:
    body = script_body()
    assert "ttl_seen is not an argument, a local or a Lua global" not in problems(body)
    assert "seen_ttl is not an argument, a local or a Lua global" in problems(body.replace("ttl_seen", "seen_ttl"))
    assert "argument ttl_seen is never read" in problems(body.replace("ttl_seen", "seen_ttl"))
    assert "the body reads KEYS or ARGV itself" in problems(body.replace("ttl_seen)", "ARGV[10])"))
    assert "local minute shadows an argument" in problems("local minute = 1\n" + body)


def test_the_header_binds_every_name_to_the_position_argv_puts_it_at() -> None:
    keys = AddEventKeys(**{f.name: f.name for f in fields(AddEventKeys)})
    scalars = {f.name: f.name for f in fields(AddEventArgs) if f.name != ENTITIES_FIELD}
    groups = (("E1", "negative", -0.5, "{}"), ("E2", "neutral", 0.0, "{}"))
    args = AddEventArgs(**scalars, entities=groups)  # type: ignore[arg-type]  # names as values
    bound = dict(re.findall(r"^local (\w+) = ((?:KEYS|ARGV)\[\d+\])$", header(), flags=re.MULTILINE))
    assert {name: f"KEYS[{keys.argv().index(name) + 1}]" for name in keys.argv()} == {
        n: v for n, v in bound.items() if v.startswith("KEYS")
    }
    assert {name: f"ARGV[{args.argv().index(name) + 1}]" for name in scalars} == {
        n: v for n, v in bound.items() if v.startswith("ARGV")
    }
    first_entity = len(scalars) + 1
    assert f"for i = {first_entity}, #ARGV do" in header()
    assert args.argv()[first_entity - 1 :] == ["E1", "negative", -0.5, "{}", "E2", "neutral", 0.0, "{}"]
    assert "for i = 1, #entities, 4 do" in script_body()  # the body steps through the same groups


def test_the_variable_length_field_comes_last() -> None:
    assert fields(AddEventArgs)[-1].name == ENTITIES_FIELD


def test_the_script_redis_runs_is_the_header_then_the_body() -> None:
    source = script_source()
    assert source.index(header()) < source.index(script_body())


class _Script:
    def __init__(self) -> None:
        self.calls: list[tuple[list[Any], list[Any]]] = []

    async def __call__(self, *, keys: list[Any], args: list[Any], client: Any) -> None:
        self.calls.append((keys, args))


class _Pipeline:
    async def execute(self) -> list[int]:
        return [1]


class _Redis:
    """Just enough of a Redis client to see what add_batch hands the script."""

    def __init__(self) -> None:
        self.script = _Script()
        self.source = ""

    def register_script(self, source: str) -> _Script:
        self.source = source
        return self.script

    def pipeline(self, transaction: bool = False) -> _Pipeline:
        return _Pipeline()


async def test_the_store_passes_each_value_under_its_name() -> None:
    client = _Redis()
    store = AggregateStore(client, prefix="radar:t:", dedupe_ttl_s=111, meta_ttl_s=999)  # type: ignore[arg-type]
    at = datetime(2026, 1, 5, 12, 1, 30, tzinfo=UTC)
    item = ScoredItem(
        "e1", "social", ("ACME", "GLOBEX"), "negative", -0.5, at, "text", toward=(("GLOBEX", "positive", 0.25),)
    )
    result = await store.add_batch([item])
    assert (result.counted, client.source) == (1, script_source())
    ((keys, args),) = client.script.calls
    names = [f.name for f in fields(AddEventArgs) if f.name != ENTITIES_FIELD]
    named = dict(zip(names, args, strict=False))
    minute = int(at.timestamp() // 60)
    assert named["kind"] == "social" and named["minute"] == minute and named["event_time"] == at.timestamp()
    assert (named["ttl_seen"], named["ttl_meta"]) == (111, 999)
    rest = args[len(names) :]
    groups = [tuple(rest[i : i + len(ENTITY_GROUP)]) for i in range(0, len(rest), len(ENTITY_GROUP))]
    assert [g[:3] for g in groups] == [
        (ALL_ENTITIES, "negative", -0.5),  # all entities: the text's sentiment
        ("ACME", "negative", -0.5),  # no sentiment of its own: the text's
        ("GLOBEX", "positive", 0.25),  # the sentiment toward it
    ]
    assert [json.loads(g[3])["score"] for g in groups] == [-0.5, -0.5, 0.25]  # evidence shows the entity's score
    assert (
        dict(zip([f.name for f in fields(AddEventKeys)], keys, strict=True))["seen_key"] == "radar:t:seen:0::e1"
    )  # (source, id); no source here
