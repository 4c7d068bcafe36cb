"""``compressor=quant_qat``: int8 quantization-aware training; the accuracy is the converted int8 graph's.

From epoch ``round(start_fraction * max_epochs)`` on, a callback trains the model through fake int8 quantization:
the model in its deployed form, captured and prepared with torchao's ``prepare_qat_pt2e`` and the quantizer of
``compressor=quant_int8`` (:func:`core.trial.int8_quantizer.int8_quantizer` with a QAT
:class:`~core.trial.int8_quantizer.Int8Scheme`: per-channel symmetric int8 weights, per-tensor affine int8
activations, conv-BatchNorm fused, moving min/max ranges); gradients pass the rounding straight through.

A 2-D model's QAT graph trains the model's own parameter tensors. A 1-D model is trained as its 2-D form (height
1), whose tensors are copies, so the callback hands the optimizer the graph's parameters (this restarts the
learning-rate schedule) and copies the trained weights back at the end. Either way, when training ends the float
model in the LightningModule is the QAT-trained network: the trial measures its float accuracy and saves it as the
deployable float model. ``apply`` converts the fake-quantized graph (``convert_pt2e``), and the trial saves that
graph's state, so ``core.tflm.export`` converts the same graph, with QAT's learned ranges, to the .tflite. If QAT never
started (training stopped before the start epoch), ``apply`` falls back to post-training calibration, exactly as
``quant_int8``.

The model must not change structure after QAT started: a pruning step (``compressor=prune_structured``) has to
happen at or before QAT's start epoch (``start_fraction >= prune.at_epoch_fraction``).
"""

from __future__ import annotations

import logging
import types
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

from core.api import (
    OBSERVERS,
    Compressor,
    DatasetInput,
    Int8Model,
    Int8Scheme,
    calibrated_int8,
    copy_back,
    from_prepared,
    prepare,
)

log = logging.getLogger(__name__)

Signature = tuple[tuple[str, int, tuple[int, ...]], ...]


def _signature(module: nn.Module) -> Signature:
    """Which tensor objects (and shapes) hold ``module``'s parameters and buffers: changes when a layer is pruned."""
    return tuple((n, id(t), tuple(t.shape)) for n, t in (*module.named_parameters(), *module.named_buffers()))


class _Trained(DatasetInput):
    """The QAT graph, fed the dataset's layout. ``train()``/``eval()`` switch the graph's BatchNorm and dropout only
    when the mode changes: each switch rewrites the graph (seconds), and Lightning calls them around every
    validation."""

    def train(self, mode: bool = True) -> _Trained:
        if mode != self.training:
            self.graph.train(mode)
        self.training = mode
        return self


class Int8QuantizationAwareTraining(Compressor):
    """Fake-quantize (QAT) from ``start_fraction`` of the epochs on, then convert to the int8 graph.

    Args:
        start_fraction: QAT starts at epoch ``round(start_fraction * max_epochs)``, at most the last epoch (so
            ``max_epochs=1`` trains with QAT from epoch 0). Must not be before any pruning epoch.
        freeze_epochs: for the last ``freeze_epochs`` epochs, freeze the quantization ranges and run the graph's
            BatchNorm with its running statistics (frozen), as in evaluation; the graph's dropout is off then too
            (a captured graph switches both together). Never in QAT's first epoch. 0: never.
        activation_averaging: averaging constant of the activation range observers (moving min/max; torch's
            default 0.01). Larger follows a still-changing network faster when QAT is only a few batches long.
        weight_averaging: averaging constant of the per-channel weight range observers. 1 (default) takes the
            current weights' range at every step, as post-training conversion does from the final weights; smaller
            values lag behind weights that are still moving and clip them.
        calibration_batches: training batches for the post-training fallback (QAT never started).
        observer: activation observer of the post-training fallback, ``minmax`` or ``histogram``.
    """

    quantizes = True

    def __init__(
        self,
        start_fraction: float = 0.8,
        freeze_epochs: int = 0,
        activation_averaging: float = 0.01,
        weight_averaging: float = 1.0,
        calibration_batches: int = 8,
        observer: str = "minmax",
    ) -> None:
        if not 0.0 <= float(start_fraction) <= 1.0:
            raise ValueError(f"start_fraction must be in [0, 1], got {start_fraction}")
        if int(freeze_epochs) < 0:
            raise ValueError(f"freeze_epochs must be >= 0, got {freeze_epochs}")
        if calibration_batches < 1:
            raise ValueError(f"calibration_batches must be >= 1, got {calibration_batches}")
        if observer not in OBSERVERS:
            raise ValueError(f"observer must be one of {', '.join(OBSERVERS)}, got {observer!r}")
        self.start_fraction = float(start_fraction)
        self.freeze_epochs = int(freeze_epochs)
        self.scheme = Int8Scheme(
            qat=True, activation_averaging=float(activation_averaging), weight_averaging=float(weight_averaging)
        )
        self.fallback = Int8Scheme(observer=observer)
        self.calibration_batches = int(calibration_batches)
        self.reset()

    def reset(self) -> None:
        """Forget any previous QAT run (a new ``fit`` starts)."""
        self.prepared: torch.fx.GraphModule | None = None  # the fake-quantized graph QAT trains
        self.trained: DatasetInput | None = None  # it, fed the dataset's layout: the LightningModule's model
        self.float_model: nn.Module | None = None  # the float module it was prepared from
        self.input_shape: tuple[int, ...] = ()
        self.shares_tensors = True
        self.started_epoch: int | None = None
        self.frozen = False
        self._float_signature: Signature = ()

    def start_epoch(self, max_epochs: int) -> int:
        """The epoch at whose start QAT begins."""
        epochs = max(int(max_epochs), 1)
        return min(round(self.start_fraction * epochs), epochs - 1)

    def freeze_epoch(self, max_epochs: int) -> int | None:
        """The epoch at whose start ranges and BN statistics freeze (None: never)."""
        if self.freeze_epochs == 0 or self.started_epoch is None:
            return None
        return max(int(max_epochs) - self.freeze_epochs, self.started_epoch + 1)

    def callbacks(self) -> list[pl.Callback]:
        return [_QuantizationAwareTraining(self)]

    def prepare(self, model: nn.Module, example_input: torch.Tensor) -> DatasetInput:
        """The fake-quantized graph of ``model`` (train mode, on ``example_input``'s device), fed the dataset's
        layout. ``shares_tensors`` then says whether it trains ``model``'s own parameters (a 2-D model) or copies
        (a 1-D model trained as 2-D)."""
        self.input_shape = tuple(int(s) for s in example_input.shape[1:])
        prepared = prepare(model, self.input_shape, self.scheme).to(example_input.device)
        own = {id(p) for p in model.parameters()}
        self.shares_tensors = all(id(p) in own for p in prepared.parameters())
        self.prepared, self.float_model = prepared, model
        self.trained = _Trained(prepared, self.input_shape)
        self._float_signature = _signature(model)
        return self.trained

    def freeze(self) -> None:
        """Freeze the ranges, and run BatchNorm (and dropout) as in evaluation from now on."""
        from torchao.quantization.pt2e import disable_observer, move_exported_model_to_eval

        assert self.prepared is not None
        self.prepared.apply(disable_observer)
        move_exported_model_to_eval(self.prepared)
        # train()/eval() would switch the graph's BatchNorm back: from now on they only set the flags
        self.prepared.train = types.MethodType(nn.Module.train, self.prepared)  # type: ignore[method-assign]
        self.prepared.eval = types.MethodType(nn.Module.eval, self.prepared)  # type: ignore[method-assign]
        self.frozen = True

    def restore_float(self) -> None:
        """Make the float model the QAT-trained network (copy back the graph's tensors that are not its own)."""
        if self.prepared is not None and self.float_model is not None:
            copy_back(self.prepared, self.float_model, self.input_shape)

    def check_unchanged(self, where: str) -> None:
        """Raise if the float model's tensors were replaced (e.g. pruned) after QAT started."""
        assert self.float_model is not None
        if _signature(self.float_model) != self._float_signature:
            raise RuntimeError(
                f"compressor=quant_qat: the model's parameters were replaced {where}, after quantization-aware "
                f"training started at epoch {self.started_epoch} (a pruning step after QAT?). Structural "
                "compressors must finish before QAT starts: set compressor.quant.start_fraction >= the pruning "
                "schedule's end (e.g. compressor.prune.at_epoch_fraction)."
            )

    def apply(self, model: nn.Module, datamodule: pl.LightningDataModule) -> Int8Model:
        if self.prepared is None:
            log.warning(
                "quantization-aware training never started (training ended before its start epoch); "
                "quantizing with post-training calibration instead (%d batches)",
                self.calibration_batches,
            )
            return calibrated_int8(model, datamodule, self.calibration_batches, self.fallback)
        if model is not self.float_model:
            raise RuntimeError(
                f"compressor=quant_qat got a different model ({type(model).__name__}) from the one quantization-"
                f"aware training ran on ({type(self.float_model).__name__}): a compressor between training and "
                "quant_qat replaced the model. Put quant_qat right after training's compressors, or use quant_int8."
            )
        self.check_unchanged("after training")
        return from_prepared(self.prepared, self.input_shape, self.scheme)  # converts a copy: apply may run again


class _QuantizationAwareTraining(pl.Callback):
    """Swaps ``pl_module.model`` for its fake-quantized graph at QAT's start epoch, and back at the end."""

    def __init__(self, owner: Int8QuantizationAwareTraining) -> None:
        self.owner = owner
        self._observers_paused = False

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.owner.reset()

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        owner = self.owner
        epochs = int(trainer.max_epochs or 1)
        epoch = int(trainer.current_epoch)
        if owner.prepared is None:
            if epoch < owner.start_epoch(epochs):
                return
            # callbacks run in config order: a pruning step of this same epoch has already happened
            example: Any = pl_module.example_input_array
            pl_module.model = owner.prepare(pl_module.model, example.to(pl_module.device))  # type: ignore[arg-type]
            owner.started_epoch = epoch
            if not owner.shares_tensors:  # the optimizer must train the graph's copies (restarts the LR schedule)
                trainer.strategy.setup_optimizers(trainer)
            log.debug("quantization-aware training from epoch %d of %d", epoch, epochs)
        else:
            if pl_module.model is not owner.trained:
                raise RuntimeError(
                    "compressor=quant_qat: the LightningModule's model was replaced during quantization-aware "
                    "training; structural compressors must finish before compressor.quant.start_fraction"
                )
            owner.check_unchanged(f"at the start of epoch {epoch}")
        freeze_at = owner.freeze_epoch(epochs)
        if not owner.frozen and freeze_at is not None and epoch >= freeze_at:
            owner.freeze()
            log.debug("froze quantization ranges and BN statistics at epoch %d", epoch)

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # validation runs the fake-quantized graph but must not move its quantization ranges
        if self.owner.prepared is not None and not self.owner.frozen:
            from torchao.quantization.pt2e import disable_observer

            self.owner.prepared.apply(disable_observer)
            self._observers_paused = True

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._observers_paused and self.owner.prepared is not None:
            from torchao.quantization.pt2e import enable_observer

            self.owner.prepared.apply(enable_observer)
        self._observers_paused = False

    def _restore(self, pl_module: pl.LightningModule) -> None:
        owner = self.owner
        if owner.float_model is not None and pl_module.model is owner.trained:
            owner.restore_float()
            owner.float_model.train(pl_module.training)
            pl_module.model = owner.float_model

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._observers_paused:
            self.on_validation_end(trainer, pl_module)
        self._restore(pl_module)
        if self.owner.prepared is not None:
            self.owner.check_unchanged("during training")

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._restore(pl_module)
