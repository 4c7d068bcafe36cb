"""prune_agp: AGP's cubic schedule, and a real trial that ends at the final sparsity with a smaller network."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from core.interfaces.trial import TrialSpec, TrialStatus
from core.trial.checkpoint import load_float
from core.trial.evaluate import evaluate_trial
from core.trial.prune_groups import find_prune_groups
from core.trial.surgery import keep_count
from plugins.compressors.prune_agp import AutomatedGradualPruning


def test_cubic_schedule_steps_and_clamping() -> None:
    agp = AutomatedGradualPruning(final_sparsity=0.8, initial_sparsity=0.0, start_epoch=1, end_epoch=5, frequency=2)
    steps = {e: agp.sparsity_at(e, 10) for e in range(10)}
    assert {e for e, s in steps.items() if s is not None} == {1, 3, 5}
    assert steps[1] == 0.0 and steps[3] == pytest.approx(0.8 - 0.8 * 0.5**3) and steps[5] == 0.8
    # a run shorter than the schedule still reaches the final sparsity on its last epoch
    short = AutomatedGradualPruning(final_sparsity=0.5, start_epoch=0, end_epoch=50)
    assert short.window(4) == (0, 3) and short.sparsity_at(3, 4) == 0.5
    # default end: three quarters into training
    assert AutomatedGradualPruning().window(8) == (0, 6)
    with pytest.raises(ValueError, match="initial_sparsity"):
        AutomatedGradualPruning(final_sparsity=0.3, initial_sparsity=0.5)
    with pytest.raises(ValueError, match="end_epoch"):
        AutomatedGradualPruning(start_epoch=5, end_epoch=2)


@pytest.mark.slow
def test_agp_trial_leaves_one_minus_s_of_every_group(make_cfg, tmp_path) -> None:
    s = 0.6
    cfg = make_cfg(
        "model=resnet",
        "model.stages=[1,1]",
        "model.base_width=16",
        "model.width_multiplier=1.0",
        "compressor=[prune_agp,quant_int8]",
        f"compressor.prune.final_sparsity={s}",
        "compressor.prune.start_epoch=0",
        "compressor.prune.end_epoch=2",
        "trainer.max_epochs=4",
    )
    spec = TrialSpec(0, [0.5], {}, OmegaConf.to_container(cfg, resolve=True), str(tmp_path))
    result = evaluate_trial(spec)
    assert result.status == TrialStatus.COMPLETE, result.error
    assert result.metrics["val_accuracy"] > 0.5  # digits, 4 epochs, pruned to 40 % of its filters, int8

    factory, shape = instantiate(cfg.model), (1, 8, 8)
    x = torch.zeros(1, *shape)
    original = {tuple(g.producers): g.channels for g in find_prune_groups(factory.build(shape, 10).eval(), x)}
    pruned = load_float(tmp_path / "models" / "0", spec.config)  # weights only, strictly into the rebuilt net
    after = {tuple(g.producers): g.channels for g in find_prune_groups(pruned, x)}
    assert after.keys() == original.keys() and len(after) >= 3
    assert all(after[k] == keep_count(original[k], s) for k in original)  # (1 - s) of every group, rounded
    assert pruned(torch.randn(2, *shape)).shape == (2, 10)  # the forward output shape is unchanged

    # the costed network is the smaller one: the search's cost equals the restructured (final-sparsity) network's
    board = instantiate(cfg.hw)
    unpruned = board.cost(factory.build(shape, 10).eval(), shape)
    restructured = instantiate(cfg.compressor.prune).restructure(factory.build(shape, 10).eval(), x)
    assert [p.shape for p in restructured.parameters()] == [p.shape for p in pruned.parameters()]
    assert result.objectives["macs"] == board.cost(restructured, shape).macs < 0.6 * unpruned.macs
    assert result.objectives["flash"] < unpruned.flash_bytes
