"""Training pieces shared by every trial: the Lightning classifier, the trial deadline (a cooperative check and a
signal alarm), and accuracy."""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any, cast

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.nn import functional as F

from core.errors import TrialDiverged, TrialTimeout

# the Trainer arguments every trial sets itself; conf/trainer holds the others and must not repeat these
TRIAL_TRAINER_ARGS = {
    "callbacks": None,  # the trial's deadline and the compressors' callbacks
    "logger": None,  # the logger plugin's per-trial logger, or False
    "enable_checkpointing": False,
    "enable_progress_bar": False,
    "enable_model_summary": False,
    "num_sanity_val_steps": 0,
    "log_every_n_steps": 1,
}


def trial_trainer(trainer: DictConfig, callbacks: list[pl.Callback], logger: Any) -> pl.Trainer:
    """The Lightning Trainer of one trial: the ``trainer`` config node as it is (only ``pytorch_lightning.Trainer``
    arguments, checked by :func:`core.search.checks.check_trainer`), plus :data:`TRIAL_TRAINER_ARGS`."""
    args = cast(dict[str, Any], OmegaConf.to_container(trainer, resolve=True))
    return pl.Trainer(**args, **{**TRIAL_TRAINER_ARGS, "callbacks": callbacks, "logger": logger})


class LitClassifier(pl.LightningModule):
    """Wraps any classifier ``nn.Module`` with cross-entropy training and an AdamW + cosine schedule.

    Args:
        model: maps ``batch x input_shape`` to ``batch x num_classes`` logits.
        lr: peak learning rate.
        weight_decay: AdamW weight decay.
        input_shape: one sample's shape (used as ``example_input_array`` by compressors).
    """

    def __init__(self, model: nn.Module, lr: float, weight_decay: float, input_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.model = model
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.example_input_array = torch.zeros(1, *input_shape)
        self.schedule_start_epoch = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self.model(x), y)
        if not torch.isfinite(loss):
            raise TrialDiverged(f"training loss became {loss.item()} at epoch {self.current_epoch}, batch {batch_idx}")
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=False)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        logits = self.model(x)
        self.log("val_loss", F.cross_entropy(logits, y), on_epoch=True)
        self.log("val_acc", (logits.argmax(1) == y).float().mean(), on_epoch=True)

    def configure_optimizers(self) -> Any:
        opt = torch.optim.AdamW(self.model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        # cosine annealing from ``schedule_start_epoch`` to the last epoch, by absolute epoch: a compressor that
        # replaces parameters rebuilds the optimizer mid-training (Strategy.setup_optimizers) and the rate carries
        # on where it was; a one-shot pruner sets ``schedule_start_epoch`` to restart the cosine for fine-tuning
        epochs = int(self.trainer.max_epochs or 1)
        start = min(int(self.schedule_start_epoch), epochs - 1)
        span = max(epochs - start, 1)
        now = int(self.trainer.current_epoch)

        def factor(step: int) -> float:
            t = min(max(now + step - start, 0), span)
            return 0.5 * (1.0 + math.cos(math.pi * t / span))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}


class Deadline(pl.Callback):
    """Raises :class:`TrialTimeout` once wall time passes ``deadline`` (a ``time.monotonic()`` value)."""

    def __init__(self, deadline: float, limit_s: float) -> None:
        self.deadline = deadline
        self.limit_s = limit_s

    def check(self, stage: str) -> None:
        """Raise if the deadline has passed; ``stage`` names where, for the message."""
        if time.monotonic() > self.deadline:
            raise TrialTimeout(f"trial exceeded search.trial_timeout_s={self.limit_s:g} s during {stage}")

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any, **kwargs: Any) -> None:
        self.check("training")

    def on_validation_batch_end(self, trainer: pl.Trainer, *args: Any, **kwargs: Any) -> None:
        self.check("validation")


class Alarm:
    """What :func:`alarm` yields: ``fired`` holds the timeout message once the alarm went off (library code may wrap
    the :class:`TrialTimeout` it raised in an exception of its own, e.g. torch.fx's ``RuntimeError``)."""

    def __init__(self) -> None:
        self.fired: str | None = None


@contextlib.contextmanager
def alarm(limit_s: float, what: str = "trial") -> Iterator[Alarm]:
    """Raise :class:`TrialTimeout` wherever this thread is once ``limit_s`` seconds have passed (``SIGALRM``).

    It bounds everything in the block (loading data, building, training, compressing, evaluating), including
    code that never reaches a :class:`Deadline` check, such as a ``datamodule()`` that sleeps. Only the main thread
    of a POSIX process can take signals; elsewhere this does nothing, and the cooperative checks (and the process
    and Ray executors' hard kill) remain. An outer timer is restored afterwards.
    """
    state = Alarm()
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable or not math.isfinite(limit_s) or limit_s <= 0:
        yield state
        return

    def on_alarm(signum: int, frame: Any) -> None:
        where = f" in {frame.f_code.co_name}()" if frame is not None else ""
        state.fired = f"{what} exceeded search.trial_timeout_s={limit_s:g} s (stopped{where})"
        raise TrialTimeout(state.fired)

    start = time.monotonic()
    previous = signal.signal(signal.SIGALRM, on_alarm)
    outer, _ = signal.setitimer(signal.ITIMER_REAL, limit_s)
    try:
        yield state
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer > 0:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - start), 1e-3))


@torch.no_grad()
def accuracy(model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """Top-1 accuracy of ``model`` (run as is, on CPU, in eval mode) over labelled batches."""
    model.eval()
    correct = total = 0
    for x, y in batches:
        pred = model(x).argmax(dim=1)
        correct += int((pred == y).sum())
        total += int(y.numel())
    if total == 0:
        return math.nan
    return correct / total


def count_parameters(model: nn.Module) -> int:
    """Number of parameter elements (float models; quantized modules hold packed params instead)."""
    return sum(p.numel() for p in model.parameters())
