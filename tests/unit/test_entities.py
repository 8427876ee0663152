"""Entity tagging on the tricky cases: case, punctuation, cashtags, overlaps, word boundaries, unicode."""

from pathlib import Path

import pytest

from stream.entities import Entity, EntityMatcher, load_watchlist

WATCHLIST = Path(__file__).resolve().parents[2] / "deploy" / "watchlist.toml"


@pytest.fixture(scope="module")
def matcher() -> EntityMatcher:
    return EntityMatcher(load_watchlist(WATCHLIST))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ACME CORP beats estimates", ["ACME"]),
        ("acme corp beats estimates", ["ACME"]),
        ("Acme's new CEO", ["ACME"]),
        ("Shares of (Acme) rose; Globex, too.", ["ACME", "GLBX"]),
        ("Acmeville is a town, Acmes are not firms", []),
        ("$ACME to the moon", ["ACME"]),
        ("$acme and $glbx", ["ACME", "GLBX"]),
        ("$ACMEX and ACMEX are other tickers", []),
        ("ACME's rival Globex Corporation", ["ACME", "GLBX"]),
        ("Bank of America cuts rates", ["BOA"]),
        ("America Movil and Bank of America", ["AMER", "BOA"]),
        ("América Móvil sube", ["AMER"]),
        ("$BAC and BofA", ["BOA"]),
        ("Stark Industries vs. Wayne Enterprises: Stark Industries wins", ["STRK", "WAYN"]),
        ("Cyberdyne Systems' Skynet", ["CYBD"]),
        ("", []),
        ("nothing to see here", []),
        ("Initech,Initrode;Umbrella Corp.", ["INIT", "UMBR"]),
    ],
)
def test_tagging(matcher: EntityMatcher, text: str, expected: list[str]) -> None:
    assert matcher.tag(text) == expected


def test_two_entities_sharing_an_alias_are_both_reported() -> None:
    matcher = EntityMatcher([Entity("A", names=("Apex",)), Entity("B", aliases=("Apex",))])
    assert matcher.tag("apex rallies") == ["A", "B"]


def test_empty_watchlist_tags_nothing() -> None:
    assert EntityMatcher([]).tag("Acme") == []
