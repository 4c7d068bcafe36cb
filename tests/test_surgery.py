"""Channel surgery and the prune_structured compressor: channels are really removed, outputs stay consistent."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from core.trial.prune_groups import find_prune_groups
from core.trial.surgery import prune_by_fraction, remove_channels
from plugins.compressors.prune_structured import StructuredPruning
from plugins.hw.tflm import TflmTarget
from plugins.models.small_cnn import SmallCNN


def _target() -> TflmTarget:
    return TflmTarget("t", 1 << 20, 1 << 18, 1024, 1024, 1e8, "cortex-m4", 1.0, 10**9, 1.0)


@pytest.mark.parametrize(
    ("shape", "kwargs"),
    [
        ((1, 8, 8), {"depth": 3, "width": 8, "head": "gap"}),
        ((1, 8, 8), {"depth": 2, "width": 8, "head": "flatten"}),
        ((6, 100), {"depth": 3, "width": 8, "conv_dim": 1, "head": "flatten"}),
    ],
)
def test_pruning_removes_params_and_cost(shape, kwargs) -> None:
    torch.manual_seed(0)
    model = SmallCNN(**kwargs).build(shape, 4).eval()
    x = torch.randn(2, *shape)
    before_params = sum(p.numel() for p in model.parameters())
    before = _target().cost(model, shape)
    removed = prune_by_fraction(model, x[:1], 0.5)
    assert removed > 0
    after_params = sum(p.numel() for p in model.parameters())
    after = _target().cost(model, shape)
    assert after_params < before_params
    assert after.flash_bytes < before.flash_bytes and after.macs < before.macs
    assert after.ram_bytes <= before.ram_bytes
    assert model(x).shape == (2, 4)  # still a working network


def test_removing_dead_channels_is_exact() -> None:
    """Channels whose weights and BN outputs are zero contribute nothing: removing them keeps outputs equal."""
    torch.manual_seed(0)
    model = SmallCNN(depth=2, width=8, head="flatten").build((1, 8, 8), 10).eval()
    conv0, bn0 = model[0], model[1]
    dead = torch.tensor([1, 4, 6])
    with torch.no_grad():
        conv0.weight[dead] = 0
        bn0.bias[dead] = 0  # relu(0 * gamma + 0) = 0 downstream
        bn0.running_mean[dead] = 0
    x = torch.randn(5, 1, 8, 8)
    ref = model(x)
    groups = find_prune_groups(model, x[:1])
    assert [g.producer for g in groups] == ["0", "4"]  # both convs; the final Linear is never pruned
    keep = torch.tensor([i for i in range(8) if i not in dead.tolist()])
    remove_channels(model, groups[0], keep)
    assert model[0].out_channels == 5 and model[1].num_features == 5 and model[4].in_channels == 5
    torch.testing.assert_close(model(x), ref, rtol=1e-5, atol=1e-5)

    # flatten head: the Linear's input features shrink by whole spatial blocks
    conv1 = model[4]
    spatial = model[-1].in_features // conv1.out_channels
    with torch.no_grad():
        conv1.weight[2] = 0
        model[5].bias[2] = 0
        model[5].running_mean[2] = 0
    ref = model(x)
    groups = find_prune_groups(model, x[:1])
    remove_channels(model, groups[1], torch.tensor([i for i in range(16) if i != 2]))
    assert model[-1].in_features == 15 * spatial
    torch.testing.assert_close(model(x), ref, rtol=1e-5, atol=1e-5)


def test_residual_add_couples_its_producers_and_prunes_them_together() -> None:
    class Residual(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Conv2d(3, 8, 3, padding=1)
            self.b = nn.Conv2d(8, 8, 3, padding=1)
            self.c = nn.Conv2d(8, 4, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = torch.relu(self.a(x))
            return self.c(h + self.b(h))

    torch.manual_seed(0)
    model = Residual().eval()
    x = torch.randn(2, 3, 8, 8)
    (group,) = find_prune_groups(model, x[:1])
    assert group.producers == ["a", "b"]  # both sides of the add lose the same channels
    assert sorted(group.consumers) == [("b", 1), ("c", 1)]
    dead = [2, 5]
    with torch.no_grad():  # channels that are zero on both sides of the add contribute nothing
        for conv in (model.a, model.b):
            conv.weight[dead] = 0
            conv.bias[dead] = 0
    ref = model(x)
    remove_channels(model, group, torch.tensor([i for i in range(8) if i not in dead]))
    assert (model.a.out_channels, model.b.in_channels, model.b.out_channels, model.c.in_channels) == (6, 6, 6, 6)
    torch.testing.assert_close(model(x), ref, rtol=1e-5, atol=1e-5)


def test_residual_to_the_output_or_a_concat_is_left_intact() -> None:
    class Out(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Conv2d(3, 8, 3, padding=1)
            self.b = nn.Conv2d(8, 8, 3, padding=1)
            self.c = nn.Conv2d(16, 4, 1)

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            h = torch.relu(self.a(x))
            y = h + self.b(h)
            return y, self.c(torch.cat([y, h], 1))

    assert find_prune_groups(Out(), torch.randn(1, 3, 8, 8)) == []


def test_compressor_prunes_during_training_or_after() -> None:
    model = SmallCNN(depth=2, width=8).build((1, 8, 8), 10)
    pruner = StructuredPruning(sparsity=0.5)

    class DM:
        def val_dataloader(self):
            return [(torch.randn(4, 1, 8, 8), torch.zeros(4, dtype=torch.long))]

    out = pruner.apply(model, DM())
    assert pruner.done and pruner.removed == 4 + 8
    assert out[0].out_channels == 4 and out[4].out_channels == 8
    pruner.apply(out, DM())  # idempotent
    assert out[0].out_channels == 4
    with pytest.raises(ValueError, match="sparsity"):
        StructuredPruning(sparsity=1.0)


class _Net(nn.Module):
    def __init__(self, body: nn.Module, forward) -> None:
        super().__init__()
        self.body = body
        self._forward = forward

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward(self.body, x)


@pytest.mark.parametrize(
    ("body", "forward", "shape"),
    [
        # Linear applied to a 3-D conv output (no flatten): the Linear mixes length, not channels
        (nn.ModuleList([nn.Conv1d(2, 8, 3, padding=1), nn.Linear(16, 4)]), lambda b, x: b[1](b[0](x)), (2, 16)),
        # flatten that keeps the channel and length dims apart
        (nn.ModuleList([nn.Conv1d(2, 8, 3, padding=1), nn.Flatten(2), nn.Linear(16, 4)]),
         lambda b, x: b[2](b[1](b[0](x))), (2, 16)),
        (nn.ModuleList([nn.Conv1d(2, 8, 3, padding=1), nn.Linear(16, 4)]),
         lambda b, x: b[1](torch.flatten(b[0](x), 2)), (2, 16)),
        # Linear on a 3-D (channels-last) input
        (nn.ModuleList([nn.Linear(4, 8), nn.Flatten(), nn.Linear(24, 2)]), lambda b, x: b[2](b[1](b[0](x))), (3, 4)),
        # a module called twice would be sliced twice
        (nn.ModuleList([nn.Conv2d(3, 3, 3, padding=1)]), lambda b, x: b[0](b[0](x)), (3, 8, 8)),
    ],
)  # fmt: skip
def test_unsafe_patterns_are_not_pruned(body, forward, shape) -> None:
    model = _Net(body, forward).eval()
    x = torch.randn(2, *shape)
    ref = model(x)
    assert find_prune_groups(model, x[:1]) == []
    assert prune_by_fraction(model, x[:1], 0.5) == 0
    torch.testing.assert_close(model(x), ref)


def test_linear_to_linear_on_2d_is_pruned() -> None:
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3)).eval()
    x = torch.randn(4, 6)
    assert prune_by_fraction(model, x[:1], 0.5) == 8
    assert model[0].out_features == 8 and model[2].in_features == 8
    assert model(x).shape == (4, 3)
