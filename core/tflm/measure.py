"""Measure a run's models in the real TFLite-Micro runtime: ``python -m core.measure RUN_DIR [--trials ...]``.

For every trial with a saved model (default: the Pareto front) it measures the exported ``model.tflite`` or, when
the trial was not exported, lowers the int8 graph it scored (``int8_state.pt``), or a trial without an int8 step
converts its ``float_model.pt`` (the ``tflm`` extra). It prints, and writes to
``RUN_DIR/measure.json``, the real .tflite size and arena (head, tail, total; TFLM's host build: x86-64, 8-byte
pointers, reference kernels) next to three things, kept apart: the cost model's estimate with the host build's
settings (comparable with the measurement: the head must be equal), the board estimate the search optimized (32-bit
structs, CMSIS-NN scratch: not comparable with the host measurement), and which parts of the board estimate are
verified against TFLM and which are modelled.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch

from core.errors import TinymooError
from core.trial.checkpoint import load_float, load_int8


def measure_trial(run_dir: Path, trial_id: int) -> dict[str, Any]:
    """The real size and arena of one trial's model, and the search's estimate of them."""
    from omegaconf import OmegaConf

    from core.interfaces import DatasetPlugin, HardwareTarget
    from core.plugins import instantiate
    from core.tflm.runtime import arena_use, convert_int8, lower_int8
    from plugins.hw.tflm import estimate_vs_measurement, host_settings_text

    out = run_dir / "models" / str(trial_id)
    manifest = json.loads((out / "manifest.json").read_text())
    cfg = OmegaConf.create(manifest["config"])
    dataset: DatasetPlugin = instantiate(cfg.dataset, "dataset")
    shape = tuple(dataset.input_shape)
    model = load_float(out, cfg)
    exported = out / "model.tflite"
    if exported.is_file():
        data, source = exported.read_bytes(), "model.tflite"
    elif "int8" in manifest:  # the int8 graph the trial scored
        data, source = lower_int8(load_int8(out, cfg, manifest["int8"], model)), "int8_state.pt"
    else:
        data = convert_int8(model, shape, [torch.randn(8, *shape, generator=torch.Generator().manual_seed(0))])
        source = "float_model.pt"
    arena = arena_use(data)
    hw: HardwareTarget = instantiate(cfg.hw, "hw")
    compared = estimate_vs_measurement(hw, model, shape, arena.head, arena.tail, len(data))
    objectives = manifest.get("objectives", {})
    return {
        "trial_id": trial_id,
        "source": source,
        "tflite_bytes": len(data),
        "arena_head_bytes": arena.head,
        "arena_tail_bytes": arena.tail,
        "arena_total_bytes": arena.total,
        "measured_on": f"TFLite-Micro host build ({host_settings_text()})",
        "estimated_flash_bytes": compared["board_estimate"]["flash_bytes"],
        **{k: v for k, v in compared.items() if k != "measured"},
        "search_objectives": {"flash": objectives.get("flash"), "ram": objectives.get("ram")},
    }


def main(argv: list[str] | None = None) -> int:
    from core.tflm.export import run_and_trials

    parsed = run_and_trials("python -m core.measure", __doc__.splitlines()[0], argv)
    if parsed is None:
        return 2
    run_dir, ids = parsed
    try:
        records = [measure_trial(run_dir, t) for t in ids]
    except TinymooError as exc:
        print(f"tinymoo: error: {exc}", file=sys.stderr)
        return 2
    print(
        "| trial | source | .tflite [B] (estimated) | arena head / tail / total [B], host build: measured "
        "| same, host-settings estimate | board estimate: head / tail / total [B] |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for r in records:
        h, b = r["host_estimate"], r["board_estimate"]
        host = "n/a" if h is None else f"{h['arena_head_bytes']} / {h['arena_tail_bytes']} / {h['arena_total_bytes']}"
        board = f"{b.get('arena_head_bytes', '?')} / {b.get('arena_tail_bytes', '?')} / {b['ram_bytes']} ({b['board']})"
        print(
            f"| {r['trial_id']} | {r['source']} | {r['tflite_bytes']} ({r['estimated_flash_bytes']}) | "
            f"{r['arena_head_bytes']} / {r['arena_tail_bytes']} / {r['arena_total_bytes']} | {host} | {board} |"
        )
    (run_dir / "measure.json").write_text(json.dumps(records, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
