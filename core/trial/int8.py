"""tinymoo's one int8 stack (torchao PT2E): the graph the search scores is the graph ``core.tflm.export`` converts.

``compressor=quant_int8`` (post-training), ``compressor=quant_qat`` (quantization-aware training) and
``core.tflm.export`` all go through these steps:

1. :func:`capture`: the model in its deployed form (:mod:`core.trial.deployed_layout`: channel-last, 1-D as 2-D) is
   captured with ``torch.export``, with a dynamic batch dimension.
2. :func:`prepare`: :func:`int8_quantizer` annotates the graph with TFLite-Micro's int8 rules, and torchao inserts
   observers (post-training, ``prepare_pt2e``) or fake quantization (QAT, ``prepare_qat_pt2e``).
3. Calibration or training, then :func:`convert` (``convert_pt2e``): a graph of quantize/dequantize ops around the
   float ops, with the scales and zero points the .tflite gets. Run as is (:class:`Int8Model`), it is the int8
   model whose accuracy is the error objective.
4. The prepared graph's state (weights, observed ranges, QAT's learned ranges) is saved with the trial, tensors
   only (:mod:`core.trial.checkpoint`). ``core.tflm.export`` captures and prepares the same graph, loads that state and
   converts: the same scales, with no second calibration; litert-torch then lowers that graph to the .tflite.

TFLite's int8 rules, as :func:`int8_quantizer` applies them:

- activations: int8, per-tensor affine, -128..127;
- weights: int8, per-channel (axis 0) symmetric, -127..127; biases stay float (the converter makes them int32 with
  scale ``input_scale * weight_scale``);
- a convolution's BatchNorm is folded into it, and a ReLU/ReLU6 after a conv, linear, BatchNorm or add is fused
  (one output quantization, after the activation);
- pooling, reshapes, permutes, padding and concatenation keep their input's quantization (TFLite requires it);
- every other op with a float output gets its own output quantization.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch import fx, nn

from core.trial.deployed_layout import DatasetInput, deployed_form, deployed_shape, to_deployed
from core.trial.int8_quantizer import Int8Scheme, int8_quantizer

MAX_BATCH = 1 << 16  # the captured graph's dynamic batch dimension allows 1..MAX_BATCH


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence what torch.export and torchao say about themselves while tinymoo quantizes (not about the model)."""
    names = ("torchao", "torch._export", "torch.export", "torch._dynamo", "torch.utils._pytree")
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch(ao)?\.")
            warnings.filterwarnings("ignore", category=UserWarning, module=r"torch(ao)?\.")
            warnings.filterwarnings("ignore", ".*register_constant.*")
            warnings.filterwarnings("ignore", ".*LeafSpec.*", category=FutureWarning)
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def capture(model: nn.Module, input_shape: tuple[int, ...]) -> fx.GraphModule:
    """``model`` in its deployed form (:func:`core.trial.deployed_layout.deployed_form`) captured with ``torch.export``
    (dynamic batch): the graph the quantizer annotates. Call it in the mode (train/eval) the graph is for."""
    deployed = deployed_form(model, input_shape)
    deployed.train(model.training)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    example = torch.zeros(2, *deployed_shape(input_shape), device=device)
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    with quiet():
        exported = torch.export.export(deployed, (example,), dynamic_shapes=({0: batch},))
    return exported.module()  # type: ignore[return-value]


def prepare(model: nn.Module, input_shape: tuple[int, ...], scheme: Int8Scheme) -> fx.GraphModule:
    """The observed (post-training) or fake-quantized (QAT) graph of ``model``.

    Post-training captures ``model`` in eval mode (BatchNorm folds into the convolutions). QAT captures it in
    train mode; the result's ``train()``/``eval()`` then switch its BatchNorm and dropout as a module's would. A 2-D
    model's QAT graph trains ``model``'s own parameter tensors.
    """
    model.train(scheme.qat)
    graph = capture(model, input_shape)
    with quiet():
        from torchao.quantization.pt2e import allow_exported_model_train_eval
        from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e, prepare_qat_pt2e

        if scheme.qat:
            prepared = prepare_qat_pt2e(graph, int8_quantizer(scheme))
            allow_exported_model_train_eval(prepared)
        else:
            prepared = prepare_pt2e(graph, int8_quantizer(scheme))
    return prepared  # type: ignore[no-any-return]


def calibrate(prepared: fx.GraphModule, batches: Iterable[torch.Tensor], input_shape: tuple[int, ...]) -> None:
    """Run float batches (dataset layout) through a post-training ``prepared`` graph so its observers see them."""
    with torch.no_grad(), quiet():
        for x in batches:
            prepared(to_deployed(x.cpu(), input_shape))


def convert(prepared: fx.GraphModule, scheme: Int8Scheme) -> fx.GraphModule:
    """The int8 (quantize/dequantize) graph of a copy of ``prepared``; ``prepared`` itself stays as it is."""
    with quiet():
        from torchao.quantization.pt2e import move_exported_model_to_eval
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

        graph = copy.deepcopy(prepared).cpu()
        if not scheme.qat:
            return convert_pt2e(graph, fold_quantize=False)  # type: ignore[no-any-return]
        move_exported_model_to_eval(graph)
        with _fold_only_present_convs():
            return convert_pt2e(graph, fold_quantize=False)  # type: ignore[no-any-return]


@contextlib.contextmanager
def _fold_only_present_convs() -> Iterator[None]:
    """Let ``convert_pt2e`` fold QAT's conv-BatchNorm patterns only for the convolution kinds the graph has.

    torchao tries 1-D, 2-D and both transposed convolutions, tracing 24 pattern pairs for each (about 0.3 s per
    trace): 15 s per QAT conversion, though tinymoo's deployed graphs hold only 2-D convolutions. A kind that is
    not in the graph has nothing to fold, so skipping it changes nothing. (A torchao without this private helper
    is left as it is: slower, not wrong.)
    """
    from torchao.quantization.pt2e import qat_utils

    helper = getattr(qat_utils, "_fold_conv_bn_qat_helper", None)
    if helper is None:
        yield
        return
    functional, aten = torch.nn.functional, torch.ops.aten
    kinds = {
        functional.conv1d: aten.conv1d.default,
        functional.conv2d: aten.conv2d.default,
        functional.conv_transpose1d: aten.conv_transpose1d.default,
        functional.conv_transpose2d: aten.conv_transpose2d.input,
    }

    def only_present(m: fx.GraphModule, conv_fn: Any, *args: Any, **kwargs: Any) -> fx.GraphModule:
        kind = kinds.get(conv_fn)
        if kind is not None and not any(n.target is kind for n in m.graph.nodes):
            return m
        return helper(m, conv_fn, *args, **kwargs)  # type: ignore[no-any-return]

    qat_utils._fold_conv_bn_qat_helper = only_present
    try:
        yield
    finally:
        qat_utils._fold_conv_bn_qat_helper = helper


def _round_away(x: torch.Tensor) -> torch.Tensor:
    """Round half away from zero, as TFLM's integer kernels do (``torch.round`` rounds half to even)."""
    return torch.sign(x) * torch.floor(x.abs() + 0.5)


def _quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite's ``QuantizeMultiplier``: ``real = multiplier * 2**(shift - 31)``, ``multiplier`` in [2**30, 2**31)."""
    if real == 0.0:
        return 0, 0
    fraction, shift = math.frexp(real)
    multiplier = math.floor(abs(fraction) * (1 << 31) + 0.5) * (1 if fraction > 0 else -1)
    if multiplier == 1 << 31:
        multiplier //= 2
        shift += 1
    return multiplier, shift


def _multiply_by_quantized_multiplier(x: torch.Tensor, multiplier: int, shift: int) -> torch.Tensor:
    """TFLite's ``MultiplyByQuantizedMultiplier`` on int64 ``x``: a rounding doubling high multiply, then a
    rounding (half away from zero) right shift."""
    left, right = max(shift, 0), max(-shift, 0)
    ab = (x * (1 << left)) * multiplier
    nudge = torch.where(ab >= 0, torch.full_like(ab, 1 << 30), torch.full_like(ab, 1 - (1 << 30)))
    high = torch.div(ab + nudge, 1 << 31, rounding_mode="trunc")
    mask = (1 << right) - 1
    remainder = torch.bitwise_and(high, mask)
    threshold = (mask >> 1) + (high < 0).long()
    return torch.bitwise_right_shift(high, right) + (remainder > threshold).long()


def tflm_mean(
    x: torch.Tensor,
    dims: tuple[int, ...],
    keepdim: bool,
    scale_in: float,
    zero_in: int,
    scale_out: float,
    zero_out: int,
) -> torch.Tensor:
    """A mean of dequantized ``x`` over ``dims`` computed as TFLM's int8 MEAN computes it (``QuantizedMeanOrSum``),
    in integers, returned on the output's float grid: the sum of ``q - zero_in``, times the fixed-point multiplier
    of ``scale_in / scale_out`` with the count folded in, plus ``zero_out``, clamped to int8."""
    count = math.prod(x.shape[d] for d in dims)
    real = float(np.float32(scale_in)) / float(np.float32(scale_out))
    multiplier, shift = _quantize_multiplier(real)
    fold = min(count.bit_length() - 1, 32, 31 + shift)
    multiplier, shift = (multiplier << fold) // count, shift - fold
    total = torch.round(x.double() / scale_in).sum(dim=dims, keepdim=keepdim).long()  # sum of q - zero_in
    q = (_multiply_by_quantized_multiplier(total, multiplier, shift) + zero_out).clamp(-128, 127)
    return ((q - zero_out).double() * scale_out).to(x.dtype)


def tflm_avg_pool(x: torch.Tensor, scale: float, zero_point: int, *pool_args: Any) -> torch.Tensor:
    """An average pool of dequantized ``x`` as TFLM's int8 AVERAGE_POOL_2D computes it (input and output share
    their quantization): the mean of the raw int8 values, rounded half away from zero, back on the float grid."""
    mean_q = torch.nn.functional.avg_pool2d(x, *pool_args) / scale + zero_point
    return (_round_away(mean_q) - zero_point) * scale


def with_tflm_rounding(graph: fx.GraphModule) -> fx.GraphModule:
    """A copy of a converted graph whose averaging ops round as TFLM's int8 kernels do.

    Every other op of a converted graph computes in float between a dequantize and a quantize, which rounds as
    TFLM's requantization does up to ties that a float result almost never hits. An average is different: TFLM
    divides an integer sum by the count and rounds (MEAN rounds the rescaled sum first, too), so exact halves are
    common (a 2 x 2 window, a 16-pixel map) and a float mean rounded half to even disagrees on a few per cent of
    the outputs. This graph is the int8 model as the board computes it; the unchanged graph is what is lowered.
    """
    aten, qd = torch.ops.aten, torch.ops.quantized_decomposed
    with quiet():
        out = copy.deepcopy(graph)
    for node in list(out.graph.nodes):
        if node.op != "call_function" or node.target not in (
            aten.mean.dim,
            aten.adaptive_avg_pool2d.default,
            aten.avg_pool2d.default,
        ):
            continue
        src, users = node.args[0], list(node.users)
        if not (
            isinstance(src, fx.Node)
            and src.target is qd.dequantize_per_tensor.default
            and len(users) == 1
            and users[0].target is qd.quantize_per_tensor.default
        ):
            continue
        q_in: Any = src.args
        q_out: Any = users[0].args
        qparams = (float(q_in[1]), int(q_in[2]), float(q_out[1]), int(q_out[2]))
        if node.target is aten.avg_pool2d.default:
            node.target, node.args = tflm_avg_pool, (src, qparams[0], qparams[1], *node.args[1:])
        elif node.target is aten.mean.dim:
            keep = bool(node.args[2] if len(node.args) > 2 else node.kwargs.get("keepdim", False))
            node.target, node.args, node.kwargs = tflm_mean, (src, tuple(node.args[1]), keep, *qparams), {}
        elif tuple(node.args[1]) in ((1, 1), (1,)):  # global adaptive average pool
            dims = (-2, -1) if len(node.args[1]) == 2 else (-1,)
            node.target, node.args = tflm_mean, (src, dims, True, *qparams)
    out.graph.lint()
    out.recompile()
    return out


def prepared_state(prepared: fx.GraphModule) -> dict[str, torch.Tensor]:
    """A CPU copy of the prepared graph's parameters, buffers and observer state: what :func:`convert` needs."""
    return {k: v.detach().cpu().clone() for k, v in prepared.state_dict().items()}


class Int8Model(DatasetInput):
    """The int8 model a trial scores: the converted graph, fed batches in the dataset's own layout.

    It runs :func:`with_tflm_rounding` of the converted graph: the int8 model as TFLM computes it.

    Attributes:
        graph: the converted graph (deployed layout input), which ``core.tflm.export`` lowers to the .tflite.
        scored: the same graph with TFLM's rounding of averages, which ``forward`` runs.
        state: :func:`prepared_state` of the graph it was converted from (saved with the trial).
        input_shape: one sample in the dataset's layout.
        scheme: how its ranges were found.
    """

    def __init__(
        self, graph: fx.GraphModule, state: dict[str, torch.Tensor], input_shape: tuple[int, ...], scheme: Int8Scheme
    ) -> None:
        super().__init__(graph, input_shape)
        self.scored = with_tflm_rounding(graph)
        self.state = state
        self.scheme = scheme

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scored(to_deployed(x, self.input_shape))  # type: ignore[no-any-return]

    def train(self, mode: bool = True) -> Int8Model:
        """Only the flag: the converted graph is always in its evaluation form (a captured graph refuses
        ``train()``/``eval()``)."""
        self.training = mode
        return self

    def weight_count(self) -> int:
        """Elements of the quantized weights and biases (BatchNorm folded)."""
        return sum(
            v.numel() for k, v in self.state.items() if k.rsplit(".", 1)[-1] in ("weight", "bias", "weight_bias")
        )


def from_prepared(prepared: fx.GraphModule, input_shape: tuple[int, ...], scheme: Int8Scheme) -> Int8Model:
    """The :class:`Int8Model` of a calibrated or QAT-trained prepared graph."""
    return Int8Model(convert(prepared, scheme), prepared_state(prepared), input_shape, scheme)


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


def calibrated_int8(
    model: nn.Module, datamodule: pl.LightningDataModule, n_batches: int, scheme: Int8Scheme
) -> Int8Model:
    """:func:`post_training_int8` of ``model`` on up to ``n_batches`` of the datamodule's training inputs
    (:func:`calibration_batches`); the input shape is theirs."""
    batches = calibration_batches(datamodule, n_batches)
    return post_training_int8(model, tuple(batches[0].shape[1:]), batches, scheme)


def post_training_int8(
    model: nn.Module, input_shape: tuple[int, ...], batches: Iterable[torch.Tensor], scheme: Int8Scheme
) -> Int8Model:
    """Calibrate ``model`` (float; its copy is captured in eval mode) on float ``batches`` and convert it."""
    if scheme.qat:
        raise ValueError("post_training_int8 needs a post-training scheme (qat=False)")
    prepared = prepare(copy.deepcopy(model).cpu(), input_shape, scheme)
    calibrate(prepared, batches, input_shape)
    return from_prepared(prepared, input_shape, scheme)
