"""``compressor=quant_int8``: post-training static int8 quantization, evaluated by running real int8 kernels.

Weights are per-channel symmetric int8, activations per-tensor affine 8-bit (full range, as TFLite-Micro's
int8 kernels), calibrated on training batches. BatchNorm is folded and ReLU fused. The result is a
torch.ao quantized GraphModule: accuracy is measured by executing it (fbgemm/x86 int8 kernels).
"""

from __future__ import annotations

import warnings

import pytorch_lightning as pl
import torch
from torch import nn

from core.interfaces.compressor import Compressor

ENGINES = ("x86", "fbgemm", "qnnpack", "onednn")


class Int8PostTrainingQuantization(Compressor):
    """Calibrate on ``calibration_batches`` training batches, then convert to a real int8 model.

    Args:
        calibration_batches: number of training batches used to observe activation ranges.
        observer: ``minmax`` or ``histogram`` (histogram clips outliers; slower).
        engine: the torch quantized engine that runs the int8 model.
    """

    quantizes = True

    def __init__(self, calibration_batches: int = 8, observer: str = "minmax", engine: str = "x86") -> None:
        if calibration_batches < 1:
            raise ValueError(f"calibration_batches must be >= 1, got {calibration_batches}")
        if observer not in ("minmax", "histogram"):
            raise ValueError(f"observer must be 'minmax' or 'histogram', got {observer!r}")
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        self.calibration_batches = int(calibration_batches)
        self.observer = observer
        self.engine = engine

    def apply(self, model: nn.Module, datamodule: pl.LightningDataModule) -> nn.Module:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from torch.ao.quantization import (
                HistogramObserver,
                MinMaxObserver,
                PerChannelMinMaxObserver,
                QConfig,
                QConfigMapping,
            )
            from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

            torch.backends.quantized.engine = self.engine
            act = HistogramObserver if self.observer == "histogram" else MinMaxObserver
            qconfig = QConfig(
                activation=act.with_args(dtype=torch.quint8, qscheme=torch.per_tensor_affine, reduce_range=False),
                weight=PerChannelMinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_channel_symmetric),
            )
            batches = _calibration_batches(datamodule, self.calibration_batches)
            model = model.cpu().eval()
            prepared = prepare_fx(model, QConfigMapping().set_global(qconfig), example_inputs=(batches[0],))
            with torch.no_grad():
                for x in batches:
                    prepared(x)
            return convert_fx(prepared)


def _calibration_batches(datamodule: pl.LightningDataModule, n: int) -> list[torch.Tensor]:
    get = getattr(datamodule, "calibration_batches", None)
    if callable(get):
        return list(get(n))
    out = []
    for i, (x, _) in enumerate(datamodule.train_dataloader()):
        if i >= n:
            break
        out.append(x)
    return out
