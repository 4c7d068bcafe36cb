"""Export a run's Pareto models for the board: int8 .tflite, a C array, and a README with what the firmware needs.

``python -m core.export RUN_DIR [--trials 3 7 | --all]`` (needs the ``tflm`` extra). For each trial it:

1. rebuilds the int8 graph the trial scored (:func:`core.trial.checkpoint.load_int8`: the architecture from the config,
   the saved float weights and int8 ranges, weights only; no second calibration). A trial without an int8 step was
   scored in float; its float model is quantized post-training here, and ``export.json`` says so;
2. lowers that graph with litert-torch (int8 input and output) and strips the tensor names;
3. measures it in the real TFLite-Micro interpreter: arena (head, tail, total), .tflite size, and on the trial's
   test split the accuracy of the .tflite, of the PyTorch int8 graph, and how often the two predict the same
   class;
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
import torch
from omegaconf import OmegaConf

from core.errors import TinymooError
from core.interfaces import DatasetPlugin, HardwareTarget
from core.plugins import instantiate
from core.trial.checkpoint import load_float, load_int8
from core.trial.deployed_layout import to_deployed
from core.trial.int8 import Int8Model, calibrated_int8
from core.trial.int8_quantizer import Int8Scheme

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
    from core.tflm.runtime import arena_use, invoke, lower_int8
    from core.tflm.tflite_graph import TfliteGraph
    from plugins.hw.tflm import estimate_vs_measurement, host_settings_text

    out = run_dir / "models" / str(trial_id)
    manifest = json.loads((out / "manifest.json").read_text())
    cfg = OmegaConf.create(manifest["config"])
    model = load_float(out, cfg)
    dataset: DatasetPlugin = instantiate(cfg.dataset, "dataset")
    dm = dataset.datamodule(batch_size=int(cfg.data.batch_size), seed=int(cfg.seed))
    shape = tuple(dataset.input_shape)
    if "int8" in manifest:  # the int8 graph the trial scored: its saved ranges, nothing calibrated again
        int8 = load_int8(out, cfg, manifest["int8"], model)
        quantized_by = f"the trial ({'quantization-aware training' if int8.scheme.qat else 'post-training'}), as scored"
    else:  # a trial without an int8 step was scored in float: quantize it here
        n_calib = int(OmegaConf.select(cfg, "compressor.quant.calibration_batches") or 8)
        int8 = calibrated_int8(model, dm, n_calib, Int8Scheme())
        quantized_by = "core.tflm.export (post-training; the trial was scored as a float model)"
    data = lower_int8(int8)
    graph = TfliteGraph.from_bytes(data)
    arena = arena_use(data)
    qin, qout = _io_quantization(data)
    parity = _parity(data, qin, int8, dm.test_dataloader(), invoke)
    accuracy = parity["tflm_test_accuracy"]
    hw: HardwareTarget = instantiate(cfg.hw, "hw")

    (out / "model.tflite").write_bytes(data)
    header, source = c_array(data)
    (out / "model_data.h").write_text(header)
    (out / "model_data.cc").write_text(source)
    inp, outp = graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]
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
        "quantized_by": quantized_by,
        **parity,
        "search_test_accuracy": manifest.get("metrics", {}).get("test_accuracy"),
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
        f"- Quantized by {quantized_by}.\n"
        f"- Test accuracy of this .tflite in TFLite-Micro: {accuracy:.4f}; of the PyTorch int8 graph it was lowered "
        f"from: {parity['pytorch_int8_test_accuracy']:.4f}. The two predict the same class for "
        f"{100 * parity['prediction_agreement']:.2f} % of the {parity['test_samples']} test samples.\n"
        + _estimates_text(compared, arena.total)
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


def _parity(data: bytes, q_in: dict[str, Any], int8: Int8Model, loader: Any, invoke: Any) -> dict[str, Any]:
    """The .tflite in TFLite-Micro (input quantization ``q_in``) against the PyTorch int8 graph it was lowered from,
    on the test split: both accuracies and how often they predict the same class."""
    scale, zero = q_in["scale"], q_in["zero_point"]
    shape = int8.input_shape
    int8.eval()
    tflm_correct = torch_correct = agree = total = 0
    for x, y in loader:
        qx = np.clip(np.round(to_deployed(x, shape).numpy() / scale) + zero, -128, 127).astype(np.int8)
        tflm = invoke(data, qx).argmax(axis=1)
        with torch.no_grad():
            ref = int8(x).argmax(dim=1).numpy()
        labels = y.numpy()
        tflm_correct += int((tflm == labels).sum())
        torch_correct += int((ref == labels).sum())
        agree += int((tflm == ref).sum())
        total += len(labels)
    n = max(total, 1)
    return {
        "tflm_test_accuracy": tflm_correct / n,
        "pytorch_int8_test_accuracy": torch_correct / n,
        "prediction_agreement": agree / n,
        "test_samples": total,
    }


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
    """Parse ``RUN_DIR [--trials ...]`` for ``core.tflm.export``/``core.tflm.measure``; None (after a one-line error on
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
            f"(PyTorch int8 {record['pytorch_int8_test_accuracy']:.4f}, same prediction on "
            f"{100 * record['prediction_agreement']:.2f} %)"
        )
    (run_dir / "export.json").write_text(json.dumps(records, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
