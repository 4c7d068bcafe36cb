"""``compressor=quant_int8``: post-training static int8 quantization; the accuracy is the int8 graph's, run as is.

The trained float model is captured in its deployed form and annotated with TFLite-Micro's int8 rules (per-channel
symmetric int8 weights, per-tensor affine int8 activations, BatchNorm folded, ReLU fused), its activation ranges
are observed on ``calibration_batches`` training batches, and it is converted (torchao PT2E, :mod:`core.trial.int8`).
``core.tflm.export`` lowers exactly that converted graph, with the same scales, to the .tflite.
"""

from __future__ import annotations

import pytorch_lightning as pl
from torch import nn

from core.api import OBSERVERS, Compressor, Int8Model, Int8Scheme, calibrated_int8


class Int8PostTrainingQuantization(Compressor):
    """Calibrate on ``calibration_batches`` training batches, then convert to the int8 graph.

    Args:
        calibration_batches: number of training batches used to observe activation ranges.
        observer: ``minmax`` or ``histogram`` (histogram clips outliers; slower).
    """

    quantizes = True

    def __init__(self, calibration_batches: int = 8, observer: str = "minmax") -> None:
        if calibration_batches < 1:
            raise ValueError(f"calibration_batches must be >= 1, got {calibration_batches}")
        if observer not in OBSERVERS:
            raise ValueError(f"observer must be one of {', '.join(OBSERVERS)}, got {observer!r}")
        self.calibration_batches = int(calibration_batches)
        self.scheme = Int8Scheme(observer=observer)

    def apply(self, model: nn.Module, datamodule: pl.LightningDataModule) -> Int8Model:
        return calibrated_int8(model, datamodule, self.calibration_batches, self.scheme)
