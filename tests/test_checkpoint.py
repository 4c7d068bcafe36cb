"""A run directory is safe to load: float_model.pt holds weights only, and a planted pickle runs nothing."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from core.interfaces.trial import TrialSpec, TrialStatus
from core.trial.checkpoint import CheckpointError, load_float, load_int8, rebuild, save_float
from core.trial.evaluate import evaluate_trial


class _Payload:
    """An object whose unpickling runs a command (what a doctored run directory would ship)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def _trial(tmp_path: Path, make_cfg) -> tuple[Path, dict]:  # type: ignore[no-untyped-def]
    cfg = make_cfg("trainer.max_epochs=1", "compressor.prune.sparsity=0.5")
    config = OmegaConf.to_container(cfg, resolve=True)
    result = evaluate_trial(TrialSpec(0, [0.5], {}, config, str(tmp_path)))
    assert result.status == TrialStatus.COMPLETE, result.error
    return tmp_path / "models" / "0", config


def test_float_model_is_weights_only_and_reloads_into_the_rebuilt_architecture(tmp_path: Path, make_cfg) -> None:  # type: ignore[no-untyped-def]
    out, config = _trial(tmp_path, make_cfg)
    state = torch.load(out / "float_model.pt", weights_only=True)
    assert isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values())
    model = load_float(out, config)
    assert {k: v.shape for k, v in model.state_dict().items()} == {k: v.shape for k, v in state.items()}
    unpruned = sum(p.numel() for p in rebuild({**config, "compressor": {}}).parameters())
    assert sum(p.numel() for p in model.parameters()) < unpruned  # the pruned architecture came back
    x = torch.randn(3, 1, 8, 8)
    assert model(x).shape == (3, 10)


def test_a_planted_pickle_runs_nothing(tmp_path: Path, make_cfg) -> None:  # type: ignore[no-untyped-def]
    out, config = _trial(tmp_path, make_cfg)
    marker = tmp_path / "pwned"
    with open(out / "float_model.pt", "wb") as f:
        pickle.dump(_Payload(marker), f)
    with pytest.raises(CheckpointError, match="not a plain state dict"):
        load_float(out, config)
    assert not marker.exists()
    # torch's own zip format with a payload inside is refused the same way
    torch.save({"weight": _Payload(marker)}, out / "float_model.pt")
    with pytest.raises(CheckpointError, match="not a plain state dict"):
        load_float(out, config)
    assert not marker.exists()


def test_weights_that_do_not_fit_the_architecture_are_refused(tmp_path: Path, make_cfg) -> None:  # type: ignore[no-untyped-def]
    out, config = _trial(tmp_path, make_cfg)
    save_float(rebuild({**config, "compressor": {}}), out)  # unpruned weights under a pruned config
    with pytest.raises(CheckpointError, match="does not fit the architecture"):
        load_float(out, config)
    (out / "float_model.pt").unlink()
    with pytest.raises(CheckpointError, match="does not exist"):
        load_float(out, config)


def test_the_int8_state_is_weights_only_and_checked_against_its_graph(tmp_path: Path, make_cfg) -> None:  # type: ignore[no-untyped-def]
    import json

    out, config = _trial(tmp_path, make_cfg)
    scheme = json.loads((out / "manifest.json").read_text())["int8"]
    state = torch.load(out / "int8_state.pt", weights_only=True)
    assert state and all(isinstance(v, torch.Tensor) for v in state.values())
    assert load_int8(out, config, scheme)(torch.randn(2, 1, 8, 8)).shape == (2, 10)
    marker = tmp_path / "pwned"
    torch.save({"weight": _Payload(marker)}, out / "int8_state.pt")
    with pytest.raises(CheckpointError, match="not a plain state dict"):
        load_int8(out, config, scheme)
    assert not marker.exists()
    torch.save({k: v for k, v in list(state.items())[1:]}, out / "int8_state.pt")  # a key missing
    with pytest.raises(CheckpointError, match="does not fit the int8 graph"):
        load_int8(out, config, scheme)
    with pytest.raises(CheckpointError, match="int8 scheme"):
        load_int8(out, config, {**scheme, "observer": "percentile"})


def test_no_unsafe_torch_load_remains() -> None:
    root = Path(__file__).resolve().parents[1]
    for folder in ("core", "plugins"):
        for path in (root / folder).rglob("*.py"):
            assert "weights_only=False" not in path.read_text(), path
