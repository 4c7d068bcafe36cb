"""Training-time plan for the paper's workloads: seconds per epoch and per trial at the real data shapes.

Times forward + backward + AdamW steps of the default scaled ResNet-18 on 3 x 32 x 32 batches and of the scaled
MobileNetV3-1D on 24 x 1024 batches (random tensors of the real shapes: a timing only, no accuracy), then
extrapolates to one epoch of the real dataset (CIFAR-10: 45,000 training images after the 10 % validation split;
DaLiAc: ``--daliac-windows`` training windows) and to one trial of the paper's search (50-98 epochs).

    python -m benchmarks.paper_workloads [--device cpu|cuda] [--batches 20] [--out results/paper_workloads.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
from torch.nn import functional as F

from plugins.models.mobilenetv3 import MobileNetV3
from plugins.models.resnet import ResNet

RESULTS = Path(__file__).parent / "results"
CIFAR_TRAIN = 45_000  # 50,000 minus the default 10 % validation split
# DaLiAc: 19 subjects, about 3.9M rows at 204.8 Hz; windows of 1024 with stride 512, mixed windows dropped, 60 %
# of subjects for training (an estimate; pass the real count with --daliac-windows)
DALIAC_TRAIN_WINDOWS = 4_500


def time_training(model: torch.nn.Module, shape: tuple[int, ...], classes: int, batch: int, batches: int, device: str):
    """Seconds per training batch (median of ``batches`` after 3 warm-up steps)."""
    model = model.to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(batch, *shape, device=device)
    y = torch.randint(0, classes, (batch,), device=device)
    times = []
    for i in range(batches + 3):
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
        if device == "cuda":
            torch.cuda.synchronize()
        if i >= 3:
            times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--daliac-windows", type=int, default=DALIAC_TRAIN_WINDOWS)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    device, bs = args.device, args.batch_size
    rows = []
    for name, model, shape, classes, n_train in (
        ("scaled ResNet-18 / CIFAR-10", ResNet().build((3, 32, 32), 10), (3, 32, 32), 10, CIFAR_TRAIN),
        (
            "scaled MobileNetV3-1D / DaLiAc",
            MobileNetV3("small", 1.25, conv_dim=1).build((24, 1024), 13),
            (24, 1024),
            13,
            args.daliac_windows,
        ),
    ):
        per_batch = time_training(model, shape, classes, bs, args.batches, device)
        epoch = per_batch * -(-n_train // bs)
        rows.append(
            {
                "workload": name,
                "params": sum(p.numel() for p in model.parameters()),
                "batch_size": bs,
                "s_per_batch": round(per_batch, 4),
                "train_samples": n_train,
                "s_per_epoch": round(epoch, 1),
                "trial_s_50_epochs": round(50 * epoch),
                "trial_s_98_epochs": round(98 * epoch),
            }
        )
        print(f"{name}: {per_batch * 1000:.1f} ms/batch of {bs}, {epoch:.1f} s/epoch, 50-98 epochs: "
              f"{50 * epoch / 60:.1f}-{98 * epoch / 60:.1f} min per trial")  # fmt: skip
    out = {
        "device": torch.cuda.get_device_name() if device == "cuda" else f"cpu ({torch.get_num_threads()} threads)",
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "note": "training steps on random tensors of the real shapes: timings only, no accuracy",
        "rows": rows,
    }
    path = args.out or RESULTS / f"paper_workloads_{device}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
