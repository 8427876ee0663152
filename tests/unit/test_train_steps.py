"""The training loop's pieces: padding a batch, the weighted soft-label loss, resuming from a checkpoint's ledger."""

from __future__ import annotations

import torch

from inference.train import _Ledger, _pad_batch, _weighted_loss


def test_a_batch_is_padded_to_its_longest_text_and_masked() -> None:
    ids, mask = _pad_batch([[5, 6, 7], [8], [9, 10]], [1, 0], pad=0)
    assert ids.tolist() == [[8, 0, 0], [5, 6, 7]]
    assert mask.tolist() == [[1, 0, 0], [1, 1, 1]]


def test_unit_weights_and_hard_targets_give_plain_cross_entropy() -> None:
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 1.0, 0.3]])
    target = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    expected = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 2]))
    assert torch.allclose(_weighted_loss(logits, target, torch.ones(3)), expected)


def test_a_weight_scales_its_class_loss() -> None:
    logits = torch.tensor([[2.0, 0.5, -1.0]])
    target = torch.tensor([[0.0, 1.0, 0.0]])
    plain = _weighted_loss(logits, target, torch.ones(3))
    assert torch.allclose(_weighted_loss(logits, target, torch.tensor([1.0, 3.0, 1.0])), 3 * plain)


def test_a_fresh_ledger_starts_at_epoch_zero_with_its_own_history() -> None:
    first, second = _Ledger(), _Ledger()
    first.history.append({"epoch": 1})
    assert (second.epoch, second.seconds, second.history) == (0, 0.0, [])


def test_a_checkpoint_resumes_with_the_safe_loader(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """torch.load(weights_only=True): a cached checkpoint cannot run code, and ours holds only what that allows."""
    import random
    from types import SimpleNamespace

    import torch
    from transformers import get_linear_schedule_with_warmup

    from inference.train import _resume, _save_checkpoint

    def run() -> SimpleNamespace:
        model = torch.nn.Linear(3, 2)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        return SimpleNamespace(
            model=model, optimizer=optimizer, scheduler=get_linear_schedule_with_warmup(optimizer, 1, 10)
        )

    first = run()
    first.optimizer.step()
    first.scheduler.step()
    ledger = _Ledger(1, 2.5, [{"epoch": 1, "loss": 0.5}])
    random.seed(4)
    expected = random.random()
    random.seed(4)
    _save_checkpoint(first, ledger, tmp_path / "ckpt.pt")  # type: ignore[arg-type]
    second = run()
    resumed = _resume(second, tmp_path / "ckpt.pt")  # type: ignore[arg-type]
    assert (resumed.epoch, resumed.history) == (1, [{"epoch": 1, "loss": 0.5}])
    assert torch.equal(first.model.weight, second.model.weight) and random.random() == expected
