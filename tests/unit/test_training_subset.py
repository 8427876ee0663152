"""The data-scaling subsets: nested, stratified, and the whole set at 1.0."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import pytest

from inference.dataset import Example
from inference.train import training_subset


def _examples() -> list[Example]:
    # uneven strata, as in the real data: many movie positives, few movie neutrals
    sizes = {("movie", "positive"): 400, ("movie", "neutral"): 24, ("nyt", "neutral"): 160, ("nyt", "negative"): 96}
    return [
        Example(f"{domain}-{label}-{i}", domain, f"text {i}", 0.0, label)
        for (domain, label), n in sizes.items()
        for i in range(n)
    ]


def test_smaller_shares_are_subsets_of_larger_ones() -> None:
    data = _examples()
    shares = [{e.id for e in training_subset(data, f, seed=15)} for f in (0.125, 0.25, 0.5, 1.0)]
    assert all(small < large for small, large in pairwise(shares))
    assert shares[-1] == {e.id for e in data}


def test_each_stratum_keeps_its_share() -> None:
    data = _examples()
    full = Counter((e.domain, e.label) for e in data)
    half = Counter((e.domain, e.label) for e in training_subset(data, 0.5, seed=15))
    assert half == {key: n // 2 for key, n in full.items()}


def test_another_seed_draws_other_texts() -> None:
    data = _examples()
    assert {e.id for e in training_subset(data, 0.25, seed=1)} != {e.id for e in training_subset(data, 0.25, seed=2)}


@pytest.mark.parametrize("fraction", [0.0, -0.5, 1.5])
def test_a_share_outside_zero_to_one_is_refused(fraction: float) -> None:
    with pytest.raises(ValueError, match="train_fraction"):
        training_subset(_examples(), fraction, seed=1)
