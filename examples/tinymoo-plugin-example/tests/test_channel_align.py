"""Tests of the ``simd_align`` compressor. Run from this directory after installing tinymoo and this package:

pip install -e /path/to/tinymoo && pip install --no-deps -e . && pytest
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.resources as resources

import pytest
import pytorch_lightning as pl
import torch
from tinymoo_plugin_example.channel_align import SimdChannelAlignment, aligned_channels, channel_signature
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from core.api import find_prune_groups


class ResidualNet(nn.Module):
    """conv -> two residual blocks (their channels meet in adds: one prune group) -> conv -> pool -> linear."""

    def __init__(self, width: int = 13, mid: int = 11, head: int = 22, classes: int = 5) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU())
        self.block1 = nn.Sequential(nn.Conv2d(width, mid, 3, padding=1), nn.ReLU(), nn.Conv2d(mid, width, 1))
        self.block2 = nn.Sequential(nn.Conv2d(width, mid, 3, padding=1), nn.ReLU(), nn.Conv2d(mid, width, 1))
        self.head = nn.Sequential(nn.Conv2d(width, head, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.fc = nn.Linear(head, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = torch.relu(x + self.block1(x))
        x = torch.relu(x + self.block2(x))
        return self.fc(torch.flatten(self.head(x), 1))


X = torch.randn(1, 1, 8, 8)


def group_channels(model: nn.Module) -> list[int]:
    return [g.channels for g in find_prune_groups(model, X)]


@pytest.mark.parametrize(
    ("channels", "multiple", "kept"), [(13, 4, 12), (16, 4, 16), (3, 4, 3), (4, 4, 4), (23, 8, 16), (7, 1, 7)]
)
def test_aligned_channels(channels: int, multiple: int, kept: int) -> None:
    assert aligned_channels(channels, multiple) == kept


def test_align_rounds_every_group_and_keeps_the_model_working() -> None:
    torch.manual_seed(0)
    model = ResidualNet().eval()
    assert group_channels(model) == [13, 11, 11, 22]  # residual stream, two block middles, head
    before = model(X)
    removed = SimdChannelAlignment(multiple=4).align(model, X)
    assert group_channels(model) == [12, 8, 8, 20]
    assert removed == 1 + 3 + 3 + 2
    out = model(X)
    assert out.shape == before.shape and torch.isfinite(out).all()
    assert model.fc.out_features == 5  # the classifier's outputs are never pruned


def test_align_removes_the_least_important_channels() -> None:
    conv, fc = nn.Conv2d(1, 5, 1), nn.Linear(5 * 64, 2)
    model = nn.Sequential(conv, nn.ReLU(), nn.Flatten(), fc)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([3.0, 0.1, 2.0, 5.0, 4.0]).view(5, 1, 1, 1))
    SimdChannelAlignment(multiple=4).align(model, X)
    assert conv.weight.flatten().tolist() == [3.0, 2.0, 5.0, 4.0]  # channel 1 (norm 0.1) went, order kept
    assert fc.in_features == 4 * 64


def test_restructure_composes_with_structured_pruning() -> None:
    """The architecture tinymoo costs before training: prune_structured's restructure, then this one's."""
    from plugins.compressors.prune_structured import StructuredPruning

    model: nn.Module = ResidualNet()
    model = StructuredPruning(sparsity=0.3).restructure(model, X)
    assert group_channels(model) == [9, 8, 8, 15]
    model = SimdChannelAlignment(multiple=4).restructure(model, X)
    assert group_channels(model) == [8, 8, 8, 12]


def test_structure_key_determines_the_shapes() -> None:
    """Keys of [prune_structured, simd_align] computed on one untrained model, as tinymoo's KnownCosts does:
    equal combined keys must mean equal restructured shapes."""
    from plugins.compressors.prune_structured import StructuredPruning

    template = ResidualNet()
    shapes_of: dict[object, tuple[tuple[str, int], ...]] = {}
    for multiple in (1, 4, 8):
        for sparsity in [i / 20 for i in range(20)]:
            chain = [StructuredPruning(sparsity=sparsity), SimdChannelAlignment(multiple=multiple)]
            key = tuple(c.structure_key(template, X) for c in chain)
            model: nn.Module = ResidualNet()
            model.load_state_dict(template.state_dict())
            for c in chain:
                model = c.restructure(model, X)
            assert shapes_of.setdefault(key, channel_signature(model)) == channel_signature(model), key
    assert len(set(shapes_of.values())) < len(shapes_of)  # alignment makes different sparsities share shapes


def test_agp_steps_then_align_equal_align_of_the_final_step() -> None:
    """Aligning after every AGP step (as in training) ends where restructure does (align once, at the end)."""
    from plugins.compressors.prune_agp import AutomatedGradualPruning

    for multiple in (2, 4, 8):
        agp = AutomatedGradualPruning(final_sparsity=0.6, start_epoch=0, end_epoch=4)
        align = SimdChannelAlignment(multiple=multiple)
        trained = ResidualNet()
        for epoch in range(5):
            sparsity = agp.sparsity_at(epoch, 5)
            assert sparsity is not None
            agp.step(trained, X, sparsity)
            align.align(trained, X)
        costed = align.restructure(agp.restructure(ResidualNet(), X), X)
        assert channel_signature(trained) == channel_signature(costed), multiple


def test_training_aligns_right_after_the_pruning_step() -> None:
    """A real Lightning fit: prune_structured prunes at epoch 2 of 3 and simd_align aligns in the same epoch, so
    the last epoch fine-tunes the aligned network; the result has the shapes tinymoo costed before training."""
    from core.api import LitClassifier
    from plugins.compressors.prune_structured import StructuredPruning

    pl.seed_everything(0, verbose=False)
    prune, align = StructuredPruning(sparsity=0.3, at_epoch_fraction=0.5), SimdChannelAlignment(multiple=4)
    seen: list[tuple[int, list[int]]] = []

    class Spy(pl.Callback):
        def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            seen.append((trainer.current_epoch, group_channels(pl_module.model)))  # type: ignore[arg-type]

    lit = LitClassifier(ResidualNet(), lr=0.01, weight_decay=0.0, input_shape=(1, 8, 8))
    data = DataLoader(TensorDataset(torch.randn(32, 1, 8, 8), torch.randint(0, 5, (32,))), batch_size=16)
    trainer = pl.Trainer(
        max_epochs=3,
        callbacks=[*prune.callbacks(), *align.callbacks(), Spy()],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
    )
    trainer.fit(lit, train_dataloaders=data)
    assert seen == [(0, [13, 11, 11, 22]), (1, [13, 11, 11, 22]), (2, [8, 8, 8, 12])]
    costed = align.restructure(prune.restructure(ResidualNet(), X), X)
    assert channel_signature(lit.model) == channel_signature(costed)
    # the optimizer was rebuilt over the aligned parameters
    params = {id(p) for p in lit.model.parameters()}
    assert {id(p) for group in trainer.optimizers[0].param_groups for p in group["params"]} == params


@pytest.mark.parametrize("bad", [{"multiple": 0}, {"multiple": 2.5}, {"multiple": True}, {"importance": "l3"}])
def test_bad_arguments(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SimdChannelAlignment(**bad)  # type: ignore[arg-type]


def test_entry_points_and_configs_are_installed() -> None:
    """The distribution registers the compressor and its config package, and the YAMLs build through tinymoo."""
    from omegaconf import DictConfig, OmegaConf

    from core.api import discover, instantiate

    try:
        md.distribution("tinymoo-plugin-example")
    except md.PackageNotFoundError:
        pytest.skip("tinymoo-plugin-example is not installed (pip install --no-deps -e .)")
    infos = {p.name: p for p in discover("compressor")}
    assert infos["simd_align"].error is None and infos["simd_align"].obj is SimdChannelAlignment
    conf = resources.files("tinymoo_plugin_example.conf")
    node = OmegaConf.create((conf / "compressor" / "simd_align.yaml").read_text())
    assert isinstance(node, DictConfig)
    assert isinstance(instantiate(node.align, "compressor", key="compressor.align"), SimdChannelAlignment)
    board_node = OmegaConf.create((conf / "hw" / "rp2350.yaml").read_text())
    assert isinstance(board_node, DictConfig)
    board = instantiate(board_node, "hw")
    assert (board.name, board.flash_budget, board.sram_budget) == ("rp2350", 4 * 2**20 - 81920, 512 * 1024 - 16384)
