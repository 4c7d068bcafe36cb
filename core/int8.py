"""The int8 numerics tinymoo's PyTorch quantizers share (torch.ao FX): qconfigs, the quantized engine, calibration.

``compressor=quant_int8`` (post-training) and ``compressor=quant_qat`` (quantization-aware training) both build
their int8 models from these, so both have the same numerics: per-channel symmetric int8 weights and per-tensor
affine 8-bit activations over the full range, as TFLite-Micro's int8 kernels. ``core.export`` calibrates with
:func:`calibration_batches` too.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

ENGINES = ("x86", "fbgemm", "qnnpack", "onednn")
OBSERVERS = ("minmax", "histogram")


def check_engine(engine: str) -> str:
    """``engine`` if torch has such a quantized engine name here, else a ValueError naming the choices."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    return engine


@contextlib.contextmanager
def quantization_backend(engine: str) -> Iterator[None]:
    """Silence torch.ao's deprecation warnings and select the quantized ``engine`` that will run the int8 model."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.backends.quantized.engine = engine
        yield


def ptq_qconfig(observer: str = "minmax") -> Any:
    """Post-training qconfig: per-tensor affine quint8 activations over the full range (0..255, no reduced
    range, as TFLite-Micro's int8 kernels) and per-channel symmetric qint8 weights (-128..127)."""
    from torch.ao.quantization import HistogramObserver, MinMaxObserver, PerChannelMinMaxObserver, QConfig

    if observer not in OBSERVERS:
        raise ValueError(f"observer must be one of {', '.join(OBSERVERS)}, got {observer!r}")
    act = HistogramObserver if observer == "histogram" else MinMaxObserver
    return QConfig(
        activation=act.with_args(dtype=torch.quint8, qscheme=torch.per_tensor_affine, reduce_range=False),
        weight=PerChannelMinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_channel_symmetric),
    )


def qat_qconfig(activation_averaging: float = 0.01, weight_averaging: float = 1.0) -> Any:
    """The quantization-aware-training counterpart of :func:`ptq_qconfig`: fake quantization (straight-through
    gradients) with the same dtypes, schemes and ranges, observed with moving-average min/max.

    Args:
        activation_averaging: the activation observers' averaging constant ``c`` (``range += c * (batch range -
            range)``; torch's default 0.01).
        weight_averaging: the same for the per-channel weight observers; 1 (default) follows the current weights
            exactly, which is what converting to int8 (and ``quant_int8``) computes from the final weights.
    """
    from torch.ao.quantization import (
        FakeQuantize,
        MovingAverageMinMaxObserver,
        MovingAveragePerChannelMinMaxObserver,
        QConfig,
    )

    return QConfig(
        activation=FakeQuantize.with_args(
            observer=MovingAverageMinMaxObserver,
            quant_min=0,
            quant_max=255,
            dtype=torch.quint8,
            qscheme=torch.per_tensor_affine,
            reduce_range=False,
            averaging_constant=activation_averaging,
        ),
        weight=FakeQuantize.with_args(
            observer=MovingAveragePerChannelMinMaxObserver,
            quant_min=-128,
            quant_max=127,
            dtype=torch.qint8,
            qscheme=torch.per_channel_symmetric,
            ch_axis=0,
            averaging_constant=weight_averaging,
        ),
    )


def calibration_batches(datamodule: pl.LightningDataModule, n: int) -> list[torch.Tensor]:
    """Up to ``n`` training input batches (the datamodule's own un-augmented ones when it offers them)."""
    get = getattr(datamodule, "calibration_batches", None)
    if callable(get):
        return list(get(n))
    out = []
    for i, (x, _) in enumerate(datamodule.train_dataloader()):
        if i >= n:
            break
        out.append(x)
    return out


def post_training_int8(
    model: nn.Module, datamodule: pl.LightningDataModule, n_batches: int, observer: str, engine: str
) -> nn.Module:
    """Calibrate ``model`` (float) on ``n_batches`` training batches and convert it to a real int8 GraphModule."""
    with quantization_backend(engine):
        from torch.ao.quantization import QConfigMapping
        from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

        qconfig = ptq_qconfig(observer)
        batches = calibration_batches(datamodule, n_batches)
        model = model.cpu().eval()
        prepared = prepare_fx(model, QConfigMapping().set_global(qconfig), example_inputs=(batches[0],))
        with torch.no_grad():
            for x in batches:
                prepared(x)
        return convert_fx(prepared)
