"""Entity tagging on the tricky cases: case, punctuation, cashtags, overlaps, word boundaries, unicode, and
hostile texts (bounded work, same answers as the former quadratic tagger)."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.entity_tagging import quadratic_tag
from stream.entities import MAX_ENTITIES, MAX_MATCHES, Entity, EntityMatcher, load_watchlist

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


# --- hostile texts: bounded work, counted in steps (speed itself is bench/entity_tagging.py's business) ---

HOSTILE = ("Acme " * 4000)[:20_000]  # MAX_TEXT_CHARS of one name: 4,000 matches, 8 million comparisons before


def test_hostile_text_costs_a_bounded_number_of_steps(matcher: EntityMatcher) -> None:
    longest = max(len(p) for e in matcher.entities for p in (*e.names, *e.aliases, *e.cashtags))
    result = matcher.tag_counted(HOSTILE)
    assert result.entities == ["ACME"]
    assert result.truncated and result.matches == MAX_MATCHES
    assert result.work <= MAX_MATCHES * (1 + 2 * longest)
    assert result.work < 20_000  # the quadratic resolution made 7,998,000 comparisons on this text


def test_without_the_cap_the_work_grows_linearly_with_the_text(matcher: EntityMatcher) -> None:
    uncapped = EntityMatcher(matcher.entities, max_matches=10**9)
    small, large = uncapped.tag_counted(HOSTILE[:10_000]), uncapped.tag_counted(HOSTILE)
    assert not large.truncated and large.matches == 4000
    assert large.work <= 2 * small.work + 10  # doubling the text doubles the work (it quadrupled before)
    assert large.work <= 3 * len(HOSTILE)


def test_quadratic_reference_on_the_hostile_text_for_the_record(matcher: EntityMatcher) -> None:
    entities, hits, comparisons = quadratic_tag(matcher, HOSTILE)
    assert (entities, hits, comparisons) == (["ACME"], 4000, 7_998_000)


def test_mentions_after_the_cap_are_not_read(matcher: EntityMatcher) -> None:
    text = "Globex " + "Acme " * 2000 + "Initech"
    result = matcher.tag_counted(text)
    assert result.entities == ["GLBX", "ACME"] and result.truncated


def test_at_most_max_entities_are_reported() -> None:
    many = EntityMatcher([Entity(f"E{i}", names=(f"firm{i}",)) for i in range(80)])
    result = many.tag_counted(" ".join(f"firm{i}" for i in range(80)))
    assert result.entities == [f"E{i}" for i in range(MAX_ENTITIES)] and result.truncated
    exact = many.tag_counted(" ".join(f"firm{i}" for i in range(MAX_ENTITIES)))
    assert len(exact.entities) == MAX_ENTITIES and not exact.truncated


def test_caps_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        EntityMatcher([], max_matches=0)


# --- same answers as the former (quadratic) tagger wherever no cap is reached ---

FRAGMENTS = [
    "Acme",
    "ACME",
    "acme",
    "Corp",
    "corporation",
    "Bank",
    "of",
    "America",
    "Movil",
    "América",
    "Móvil",
    "$ACME",
    "$bac",
    "$$glbx",
    "Globex",
    "Stark",
    "Industries",
    "Ind",
    "Initech",
    "Initrode",
    "BofA",
    "ville",
    "_",
    "s",
    "'",
    "(",
    ")",
    ",",
    ".",
    "$",
    "x",
    "é",
    "\u0301",
    "İ",
]


REFERENCE = EntityMatcher(load_watchlist(WATCHLIST))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(FRAGMENTS), st.sampled_from(["", " ", "  ", "-"])), max_size=40))
def test_same_entities_as_the_quadratic_tagger(parts: list[tuple[str, str]]) -> None:
    text = "".join(word + sep for word, sep in parts)
    assert REFERENCE.tag(text) == quadratic_tag(REFERENCE, text)[0]


def _zh_matcher() -> EntityMatcher:
    return EntityMatcher(
        [
            Entity("MOUTAI", names=("贵州茅台",), cashtags=("600519.SH",)),
            Entity("MT_BRAND", names=("茅台",)),
            Entity("PAB", names=("平安银行",), cashtags=("SZ000001",)),
            Entity("TENCENT", names=("腾讯控股", "Tencent"), cashtags=("00700.HK",)),
        ]
    )


def test_chinese_names_match_without_word_boundaries_and_the_longest_wins() -> None:
    m = _zh_matcher()
    assert m.tag("今日贵州茅台股价大跌") == ["MOUTAI"], "贵州茅台 over the 茅台 it contains"
    assert m.tag("茅台酒价格回落，中国平安银行股份公布年报") == ["MT_BRAND", "PAB"]
    assert m.tag("腾讯控股与Tencent Music无关") == ["TENCENT"], "a Latin name between ideographs matches"


def test_market_codes_tag_like_cashtags_in_every_written_form() -> None:
    m = _zh_matcher()
    for text in ("600519涨停", "代码600519.SH", "sh600519 放量", "600519.ss", "$600519"):
        assert m.tag(text) == ["MOUTAI"], text
    for text in ("SZ000001跌停", "000001.SZ", "(000001)"):
        assert m.tag(text) == ["PAB"], text
    for text in ("00700.HK", "0700.hk 收跌", "HK00700"):
        assert m.tag(text) == ["TENCENT"], text
    assert m.tag("1600519 and 6005190 are other numbers") == []


def test_full_width_forms_fold_to_half_width() -> None:
    m = _zh_matcher()
    assert m.tag("（６００５１９．ＳＨ）公告") == ["MOUTAI"]
    assert m.tag("ＴＥＮＣＥＮＴ上涨") == ["TENCENT"]
