"""``compressor=quant_int8``: post-training static int8 quantization, evaluated by running real int8 kernels.

Weights are per-channel symmetric int8, activations per-tensor affine 8-bit (full range, as TFLite-Micro's
int8 kernels), calibrated on training batches. BatchNorm is folded and ReLU fused. The result is a
torch.ao quantized GraphModule: accuracy is measured by executing it (fbgemm/x86 int8 kernels).

The qconfigs, the engine setting and the calibration live in :mod:`core.int8`, shared with
``compressor=quant_qat``, so both produce int8 models with the same numerics.
"""

from __future__ import annotations

import pytorch_lightning as pl
from torch import nn

from core.int8 import OBSERVERS, check_engine, post_training_int8
from core.interfaces.compressor import Compressor


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
        if observer not in OBSERVERS:
            raise ValueError(f"observer must be 'minmax' or 'histogram', got {observer!r}")
        self.calibration_batches = int(calibration_batches)
        self.observer = observer
        self.engine = check_engine(engine)

    def apply(self, model: nn.Module, datamodule: pl.LightningDataModule) -> nn.Module:
        return post_training_int8(model, datamodule, self.calibration_batches, self.observer, self.engine)
