"""Export a run's Pareto models for the board: int8 .tflite, a C array, and a README with what the firmware needs.

``python -m core.export RUN_DIR [--trials 3 7 | --all]`` (needs the ``tflm`` extra). For each trial it:

1. rebuilds the trial's architecture from its config and loads the weights it saved (``models/<id>/float_model.pt``,
   weights only: :mod:`core.checkpoint`);
2. converts it with litert-torch (PT2E int8: per-channel weights, int8 input and output), calibrating on the
   trial's own calibration data, and strips the tensor names;
3. measures it in the real TFLite-Micro interpreter: arena (head, tail, total), .tflite size, and the int8
   accuracy of the .tflite on the trial's test split;
4. writes ``models/<id>/model.tflite``, ``model_data.h`` / ``model_data.cc`` (a C array as ``xxd -i`` writes it,
   16-byte aligned), ``README.md`` (input/output quantization, arena size to pass to ``MicroInterpreter``) and
   ``export.json``; and a run-level ``export.json`` comparing the estimate with the measurement.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from core.checkpoint import load_float
from core.errors import TinymooError
from core.int8 import calibration_batches
from core.interfaces import DatasetPlugin, HardwareTarget
from core.plugins import instantiate

ARENA_MARGIN = 1.0  # the README recommends the measured arena rounded up to 1 KiB (no guesswork margin)


def c_array(data: bytes, name: str = "g_model") -> tuple[str, str]:
    """``(header, source)`` of a C array holding ``data``, 12 bytes per line as ``xxd -i`` writes them."""
    lines = []
    for i in range(0, len(data), 12):
        lines.append("  " + ", ".join(f"0x{b:02x}" for b in data[i : i + 12]))
    header = (
        "#pragma once\n#include <cstddef>\n\n"
        f"extern const unsigned char {name}[];\nextern const unsigned int {name}_len;\n"
    )
    source = (
        '#include "model_data.h"\n\n'
        f"alignas(16) const unsigned char {name}[] = {{\n" + ",\n".join(lines) + "\n};\n"
        f"const unsigned int {name}_len = {len(data)};\n"
    )
    return header, source


def export_trial(run_dir: Path, trial_id: int) -> dict[str, Any]:
    """Convert, measure and write one trial's deployment files; returns its ``export.json`` record."""
    from core.tflite_graph import TfliteGraph
    from core.tflm_runtime import arena_use, convert_int8, invoke
    from plugins.hw.tflm import estimate_vs_measurement, host_settings_text

    out = run_dir / "models" / str(trial_id)
    manifest = json.loads((out / "manifest.json").read_text())
    cfg = OmegaConf.create(manifest["config"])
    model = load_float(out, cfg)
    dataset: DatasetPlugin = instantiate(cfg.dataset, "dataset")
    dm = dataset.datamodule(batch_size=int(cfg.trainer.batch_size), seed=int(cfg.seed))
    shape = tuple(dataset.input_shape)
    n_calib = int(OmegaConf.select(cfg, "compressor.quant.calibration_batches") or 8)
    calibration = calibration_batches(dm, n_calib)
    data = convert_int8(model, shape, calibration)
    graph = TfliteGraph.from_bytes(data)
    arena = arena_use(data)
    accuracy = _tflm_accuracy(data, graph, dm.test_dataloader(), invoke)
    hw: HardwareTarget = instantiate(cfg.hw, "hw")

    (out / "model.tflite").write_bytes(data)
    header, source = c_array(data)
    (out / "model_data.h").write_text(header)
    (out / "model_data.cc").write_text(source)
    inp, outp = graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]
    qin, qout = _io_quantization(data)
    arena_kib = -(-arena.total // 1024)
    # like with like: the measurement is TFLM's host build; the host-settings estimate is comparable with it, the
    # board estimate (what the search optimized) is not, and its board-only parts are modelled, not measured
    compared = estimate_vs_measurement(hw, model, shape, arena.head, arena.tail, len(data))
    board = compared["board_estimate"]
    record = {
        "trial_id": trial_id,
        "tflite_bytes": len(data),
        "arena_head_bytes": arena.head,
        "arena_tail_bytes": arena.tail,
        "arena_total_bytes": arena.total,
        "measured_on": f"TFLite-Micro host build ({host_settings_text()})",
        "estimated_flash_bytes": board["flash_bytes"],  # the .tflite estimate: the same with every board's settings
        **{k: v for k, v in compared.items() if k != "measured"},
        "tflm_test_accuracy": accuracy,
        "pytorch_int8_test_accuracy": manifest.get("metrics", {}).get("test_accuracy"),
        "input": {"shape": list(inp.shape), "dtype": inp.dtype, **qin},
        "output": {"shape": list(outp.shape), "dtype": outp.dtype, **qout},
        "ops": graph.op_names(),
    }
    (out / "export.json").write_text(json.dumps(record, indent=2) + "\n")
    (out / "README.md").write_text(
        f"# Trial {trial_id}: int8 TFLite-Micro model\n\n"
        f"- `model.tflite`: {len(data)} bytes; `model_data.cc`/`.h`: the same bytes as `g_model[]`.\n"
        f"- Ops: {', '.join(sorted(set(graph.op_names())))} (register these with a `MicroMutableOpResolver`).\n"
        f"- Input `{list(inp.shape)}` int8 (NHWC), scale {qin['scale']:.8g}, zero point {qin['zero_point']}: "
        f"`q = round(x / scale) + zero_point`.\n"
        f"- Output `{list(outp.shape)}` int8, scale {qout['scale']:.8g}, zero point {qout['zero_point']}: "
        f"`x = (q - zero_point) * scale`.\n"
        f"- Tensor arena measured in TFLite-Micro: {arena.total} bytes (head {arena.head}, tail {arena.tail}, "
        f"host build: {host_settings_text()}); pass `constexpr size_t kArenaSize = {arena_kib} * 1024;` to "
        "`MicroInterpreter`.\n"
        f"- Test accuracy of this .tflite in TFLite-Micro: {accuracy:.4f}.\n" + _estimates_text(compared, arena.total)
    )
    return record


def _estimates_text(compared: dict[str, Any], measured_total: int) -> str:
    """The README's section on the cost model's estimates: host settings vs measured, board, verified vs modelled."""
    host, board, parts = compared["host_estimate"], compared["board_estimate"], compared["board_estimate_parts"]
    lines = ["", "## The cost model's estimates", ""]
    if host is not None:
        same = "equal to the measured head" if host["head_matches_measured"] else "NOT equal to the measured head"
        lines.append(
            f"- With the host build's settings ({host['settings']}), as measured above: arena "
            f"{host['arena_total_bytes']} bytes (head {host['arena_head_bytes']}, {same}; tail "
            f"{host['arena_tail_bytes']}, {host['ratio_to_measured']['arena_tail']:.3f} x measured), .tflite "
            f"{host['flash_bytes']} bytes ({host['ratio_to_measured']['flash']:.3f} x measured)."
        )
        lines.append(
            f"- For the board ({board['board']}: {board['core']}, {board['pointer_bytes']}-byte pointers, "
            f"{board['kernels']} kernels), what the search optimized: arena {board['ram_bytes']} bytes (head "
            f"{board['arena_head_bytes']}, of which {board['cmsis_nn_scratch_head_bytes']} CMSIS-NN scratch; tail "
            f"{board['arena_tail_bytes']}), .tflite {board['flash_bytes']} bytes. It differs from the {measured_total} "
            "bytes measured because the settings differ, not because the estimate is off."
        )
    else:
        lines.append(
            f"- For the board ({board['board']}): flash {board['flash_bytes']}, SRAM {board['ram_bytes']} bytes."
        )
    lines += [f"- Verified against TFLite-Micro: {v}." for v in parts["verified"]]
    lines += [f"- Modelled, not measured: {m}." for m in parts["modelled"]]
    return "\n".join(lines) + "\n"


def _tflm_accuracy(data: bytes, graph: Any, loader: Any, invoke: Any) -> float:
    q = _io_quantization(data)
    scale, zero = q[0]["scale"], q[0]["zero_point"]
    correct = total = 0
    for x, y in loader:
        x = x.unsqueeze(2) if x.dim() == 3 else x  # 1-D models run as 2-D of height 1
        nhwc = x.movedim(1, -1).numpy()
        qx = np.clip(np.round(nhwc / scale) + zero, -128, 127).astype(np.int8)
        pred = invoke(data, qx).argmax(axis=1)
        correct += int((pred == y.numpy()).sum())
        total += len(y)
    return correct / max(total, 1)


def _io_quantization(data: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    from tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(data)

    def q(details: dict[str, Any]) -> dict[str, Any]:
        p = details["quantization_parameters"]
        return {"scale": float(p["scales"][0]), "zero_point": int(p["zero_points"][0])}

    return q(interp.get_input_details(0)), q(interp.get_output_details(0))


def pareto_ids(run_dir: Path) -> list[int]:
    with open(run_dir / "pareto.csv", newline="") as f:
        return [int(row["trial_id"]) for row in csv.DictReader(f)]


def run_and_trials(prog: str, description: str, argv: list[str] | None) -> tuple[Path, list[int]] | None:
    """Parse ``RUN_DIR [--trials ...]`` for ``core.export``/``core.measure``; None (after a one-line error on
    stderr) when RUN_DIR is not the directory of a finished search."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("run_dir", type=Path)
    p.add_argument("--trials", nargs="+", type=int, help="trial ids (default: the Pareto front)")
    args = p.parse_args(argv)
    run_dir: Path = args.run_dir
    if not (run_dir / "models").is_dir():
        print(
            f"tinymoo: error: {run_dir} holds no models/ directory; pass a run directory of a finished search",
            file=sys.stderr,
        )
        return None
    return run_dir, list(args.trials or pareto_ids(run_dir))


def main(argv: list[str] | None = None) -> int:
    parsed = run_and_trials("python -m core.export", __doc__.splitlines()[0], argv)
    if parsed is None:
        return 2
    run_dir, ids = parsed
    records = []
    for trial_id in ids:
        try:
            record = export_trial(run_dir, trial_id)
        except TinymooError as exc:
            print(f"tinymoo: error: trial {trial_id}: {exc}", file=sys.stderr)
            return 2
        records.append(record)
        print(
            f"trial {trial_id}: {record['tflite_bytes']} B flash (estimated {record['estimated_flash_bytes']}), "
            f"arena {record['arena_total_bytes']} B, TFLM test accuracy {record['tflm_test_accuracy']:.4f} "
            f"(PyTorch int8 {record['pytorch_int8_test_accuracy']})"
        )
    (run_dir / "export.json").write_text(json.dumps(records, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
