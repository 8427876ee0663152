"""The four human-rated sets parse to the sizes their authors give; the split is stable and stratified."""

from collections import Counter

from inference.dataset import fetch_vader_sdist, parse_sdist, stratified_split
from services.settings import Settings


def test_real_sets_and_split() -> None:
    examples = parse_sdist(fetch_vader_sdist(Settings().cache_dir))
    assert Counter(e.domain for e in examples) == {"tweets": 4200, "movie": 10605, "amazon": 3708, "nyt": 5190}
    train, test = stratified_split(examples, seed=13)
    _, again_test = stratified_split(list(reversed(examples)), seed=13)
    assert [e.id for e in test] == [e.id for e in again_test]
    assert not {e.id for e in train} & {e.id for e in test}
    for domain in ("tweets", "movie", "amazon", "nyt"):
        share = sum(e.domain == domain for e in test) / sum(e.domain == domain for e in examples)
        assert 0.19 < share < 0.21
    assert Counter(e.label for e in examples)["neutral"] == 4567
