"""``compressor=quant_qat``: int8 quantization-aware training, evaluated by running real int8 kernels.

From epoch ``round(start_fraction * max_epochs)`` on, a callback trains the model through torch.ao FX fake
quantization (``prepare_qat_fx``): weights per-channel symmetric int8, activations per-tensor affine 8-bit over the
full range, BatchNorm fused into the convolutions, i.e. the numerics of ``compressor=quant_int8``
(:func:`plugins.compressors.quant_int8.qat_qconfig`); gradients pass the rounding straight through.

``prepare_qat_fx`` reuses the model's own ``nn.Parameter`` and BatchNorm buffer objects (checked when it runs),
so the optimizer keeps training the same tensors and the float model is QAT-trained as well. When training ends
the callback puts that float model back into the LightningModule: the trial measures its float accuracy and saves
it as the deployable float model. ``apply`` then converts the fake-quantized model into a real int8 GraphModule
(the same kind ``quant_int8`` produces). If QAT never started (training stopped before the start epoch), ``apply``
falls back to post-training calibration, exactly as ``quant_int8``.

The model must not change structure after QAT started: a pruning step (``compressor=prune_structured``) has to
happen at or before QAT's start epoch (``start_fraction >= prune.at_epoch_fraction``).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

from core.int8 import OBSERVERS, check_engine, post_training_int8, qat_qconfig, quantization_backend
from core.interfaces.compressor import Compressor

log = logging.getLogger(__name__)

Signature = tuple[tuple[str, int, tuple[int, ...]], ...]


def _signature(module: nn.Module) -> Signature:
    """Which tensor objects (and shapes) hold ``module``'s parameters and buffers, fake-quantization state left
    out (its buffers grow in place when first observed): changes when a layer is pruned."""
    out = []
    for mod_name, mod in module.named_modules():
        if _quantization_state(mod):
            continue
        for n, t in (*mod.named_parameters(recurse=False), *mod.named_buffers(recurse=False)):
            out.append((f"{mod_name}.{n}", id(t), tuple(t.shape)))
    return tuple(out)


def _quantization_state(module: nn.Module) -> bool:
    """True for a fake-quantize or observer module (the only new state ``prepare_qat_fx`` may add)."""
    from torch.ao.quantization import FakeQuantizeBase
    from torch.ao.quantization.observer import ObserverBase

    return isinstance(module, FakeQuantizeBase | ObserverBase)


def shared_state(original: nn.Module, prepared: nn.Module) -> tuple[list[str], list[str]]:
    """Compare a QAT-prepared model with the float model it was prepared from.

    Returns ``(copied, new_parameters)``: ``copied`` names the prepared model's parameters and buffers that are
    neither one of ``original``'s tensor objects nor fake-quantization state (a copy, which training would
    update instead of the float model's tensor); ``new_parameters`` names trainable parameters the optimizer
    does not know (e.g. learnable fake-quantization scales).
    """
    known = {id(t) for t in (*original.parameters(), *original.buffers())}
    params = {id(p) for p in original.parameters()}
    copied: list[str] = []
    new: list[str] = []
    for mod_name, mod in prepared.named_modules():
        quant = _quantization_state(mod)
        for name, p in mod.named_parameters(recurse=False):
            full = f"{mod_name}.{name}" if mod_name else name
            if id(p) not in params:
                (new if quant else copied).append(full)
        for name, b in mod.named_buffers(recurse=False):
            if id(b) not in known and not quant:
                copied.append(f"{mod_name}.{name}" if mod_name else name)
    return copied, new


class Int8QuantizationAwareTraining(Compressor):
    """Fake-quantize (QAT) from ``start_fraction`` of the epochs on, then convert to a real int8 model.

    Args:
        start_fraction: QAT starts at epoch ``round(start_fraction * max_epochs)``, at most the last epoch (so
            ``max_epochs=1`` trains with QAT from epoch 0). Must not be before any pruning epoch.
        freeze_epochs: for the last ``freeze_epochs`` epochs, freeze the observers (quantization ranges) and
            the BatchNorm running statistics of the fused conv-BN layers; never in QAT's first epoch. 0: never.
        activation_averaging: averaging constant of the activation range observers (moving min/max; torch's
            default 0.01). Larger follows a still-changing network faster when QAT is only a few batches long.
        weight_averaging: averaging constant of the per-channel weight range observers. 1 (default) takes the
            current weights' range at every step, as the int8 conversion does from the final weights; smaller
            values lag behind weights that are still moving and clip them (measured: several points of int8
            accuracy lost on a 3-epoch digits run at 0.01).
        calibration_batches: training batches for the post-training fallback (QAT never started); also what
            ``core.export`` calibrates the deployment toolchain with.
        observer: activation observer of the post-training fallback, ``minmax`` or ``histogram``.
        engine: the torch quantized engine that runs the int8 model.
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
        engine: str = "x86",
    ) -> None:
        if not 0.0 <= float(start_fraction) <= 1.0:
            raise ValueError(f"start_fraction must be in [0, 1], got {start_fraction}")
        if int(freeze_epochs) < 0:
            raise ValueError(f"freeze_epochs must be >= 0, got {freeze_epochs}")
        for key, value in (("activation_averaging", activation_averaging), ("weight_averaging", weight_averaging)):
            if not 0.0 < float(value) <= 1.0:
                raise ValueError(f"{key} must be in (0, 1], got {value}")
        if calibration_batches < 1:
            raise ValueError(f"calibration_batches must be >= 1, got {calibration_batches}")
        if observer not in OBSERVERS:
            raise ValueError(f"observer must be 'minmax' or 'histogram', got {observer!r}")
        self.start_fraction = float(start_fraction)
        self.freeze_epochs = int(freeze_epochs)
        self.activation_averaging = float(activation_averaging)
        self.weight_averaging = float(weight_averaging)
        self.calibration_batches = int(calibration_batches)
        self.observer = observer
        self.engine = check_engine(engine)
        self.reset()

    def reset(self) -> None:
        """Forget any previous QAT run (a new ``fit`` starts)."""
        self.prepared: nn.Module | None = None  # the fake-quantized GraphModule QAT trains
        self.float_model: nn.Module | None = None  # the float module it was prepared from (shares its tensors)
        self.started_epoch: int | None = None
        self.frozen = False
        self._float_signature: Signature = ()
        self._prepared_signature: Signature = ()
        self._tags: list[tuple[nn.Module, str, Any]] = []

    def start_epoch(self, max_epochs: int) -> int:
        """The epoch at whose start QAT begins."""
        epochs = max(int(max_epochs), 1)
        return min(round(self.start_fraction * epochs), epochs - 1)

    def freeze_epoch(self, max_epochs: int) -> int | None:
        """The epoch at whose start observers and BN statistics freeze (None: never)."""
        if self.freeze_epochs == 0 or self.started_epoch is None:
            return None
        return max(int(max_epochs) - self.freeze_epochs, self.started_epoch + 1)

    def callbacks(self) -> list[pl.Callback]:
        return [_QuantizationAwareTraining(self)]

    def prepare(self, model: nn.Module, example_input: torch.Tensor) -> tuple[nn.Module, list[str]]:
        """A fake-quantized GraphModule of ``model`` that trains ``model``'s own parameters and BN buffers
        (``model`` stays an unchanged float module); returns it and the names of trainable parameters it added
        (none with this qconfig). Raises RuntimeError if torch copied tensors instead of sharing them."""
        with quantization_backend(self.engine):
            from torch.ao.quantization import QConfigMapping
            from torch.ao.quantization.quantize_fx import prepare_qat_fx

            before = {mod: set(vars(mod)) for mod in model.modules()}
            prepared = prepare_qat_fx(
                model.train(),
                QConfigMapping().set_global(qat_qconfig(self.activation_averaging, self.weight_averaging)),
                example_inputs=(example_input,),
            )
        # prepare_qat_fx tags the float model's modules with their qconfig, which cannot be pickled: take the tags
        # off (the float model is saved with torch.save) and put them back only to convert
        self._tags = [(mod, k, vars(mod).pop(k)) for mod, keys in before.items() for k in set(vars(mod)) - keys]
        prepared.to(example_input.device)  # the fake-quantize buffers start on the CPU; parameters stay in place
        copied, new = shared_state(model, prepared)
        if copied:
            raise RuntimeError(
                "prepare_qat_fx copied the model's tensors instead of sharing them "
                f"({', '.join(copied[:5])}{', ...' if len(copied) > 5 else ''}); QAT would not train the float "
                "model. This model is not supported by compressor=quant_qat; use compressor=quant_int8."
            )
        self.prepared, self.float_model = prepared, model
        self._float_signature, self._prepared_signature = _signature(model), _signature(prepared)
        return prepared, new

    def check_unchanged(self, where: str) -> None:
        """Raise if the model's tensors were replaced (e.g. pruned) after QAT started."""
        assert self.prepared is not None and self.float_model is not None
        if _signature(self.prepared) != self._prepared_signature or _signature(self.float_model) != (
            self._float_signature
        ):
            raise RuntimeError(
                f"compressor=quant_qat: the model's parameters were replaced {where}, after quantization-aware "
                f"training started at epoch {self.started_epoch} (a pruning step after QAT?). Structural "
                "compressors must finish before QAT starts: set compressor.quant.start_fraction >= the pruning "
                "schedule's end (e.g. compressor.prune.at_epoch_fraction)."
            )

    def apply(self, model: nn.Module, datamodule: pl.LightningDataModule) -> nn.Module:
        if self.prepared is None:
            log.warning(
                "quantization-aware training never started (training ended before its start epoch); "
                "quantizing with post-training calibration instead (%d batches)",
                self.calibration_batches,
            )
            return post_training_int8(model, datamodule, self.calibration_batches, self.observer, self.engine)
        if model is not self.float_model:
            raise RuntimeError(
                f"compressor=quant_qat got a different model ({type(model).__name__}) from the one quantization-"
                f"aware training ran on ({type(self.float_model).__name__}): a compressor between training and "
                "quant_qat replaced the model. Put quant_qat right after training's compressors, or use quant_int8."
            )
        self.check_unchanged("after training")
        with quantization_backend(self.engine):
            from torch.ao.quantization.quantize_fx import convert_fx

            # convert a copy: the prepared model stays as trained (apply may run again)
            for mod, key, value in self._tags:
                setattr(mod, key, value)
            try:
                prepared = copy.deepcopy(self.prepared).cpu().eval()
            finally:
                for mod, key, _ in self._tags:
                    vars(mod).pop(key, None)
            return convert_fx(prepared)


class _QuantizationAwareTraining(pl.Callback):
    """Swaps ``pl_module.model`` for its fake-quantized version at QAT's start epoch, and back at the end."""

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
            prepared, new = owner.prepare(pl_module.model, example.to(pl_module.device))  # type: ignore[arg-type]
            owner.started_epoch = epoch
            pl_module.model = prepared
            if new:  # the optimizer must also train the added parameters (this restarts the LR schedule)
                trainer.strategy.setup_optimizers(trainer)
            log.debug("quantization-aware training from epoch %d of %d", epoch, epochs)
        else:
            if pl_module.model is not owner.prepared:
                raise RuntimeError(
                    "compressor=quant_qat: the LightningModule's model was replaced during quantization-aware "
                    "training; structural compressors must finish before compressor.quant.start_fraction"
                )
            owner.check_unchanged(f"at the start of epoch {epoch}")
        freeze_at = owner.freeze_epoch(epochs)
        if not owner.frozen and freeze_at is not None and epoch >= freeze_at:
            from torch.ao.nn.intrinsic.qat import freeze_bn_stats
            from torch.ao.quantization import disable_observer

            owner.prepared.apply(disable_observer)
            owner.prepared.apply(freeze_bn_stats)
            owner.frozen = True
            log.debug("froze quantization ranges and BN statistics at epoch %d", epoch)

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # validation runs the fake-quantized model but must not move its quantization ranges
        if self.owner.prepared is not None and not self.owner.frozen:
            from torch.ao.quantization import disable_observer

            self.owner.prepared.apply(disable_observer)
            self._observers_paused = True

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._observers_paused and self.owner.prepared is not None:
            from torch.ao.quantization import enable_observer

            self.owner.prepared.apply(enable_observer)
        self._observers_paused = False

    def _restore(self, pl_module: pl.LightningModule) -> None:
        owner = self.owner
        if owner.float_model is not None and pl_module.model is owner.prepared:
            owner.float_model.train(pl_module.training)  # also undoes freeze_bn_stats' BN eval flags
            pl_module.model = owner.float_model

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._observers_paused:
            self.on_validation_end(trainer, pl_module)
        self._restore(pl_module)
        if self.owner.prepared is not None:
            self.owner.check_unchanged("during training")

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._restore(pl_module)
