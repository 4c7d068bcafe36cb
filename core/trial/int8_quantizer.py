"""TFLite-Micro's int8 rules as a torchao PT2E quantizer, and the scheme that says how ranges are found.

:func:`int8_quantizer` annotates a captured graph (:func:`core.trial.int8.capture`) with the rules the module
docstring of :mod:`core.trial.int8` lists; :class:`Int8Scheme` chooses post-training observers or QAT's fake
quantization.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import fx

OBSERVERS = ("minmax", "histogram")
EPS = 2.0**-12  # the smallest scale an observer may choose (litert-torch's TFLite configs use the same)


@dataclass(frozen=True)
class Int8Scheme:
    """How the int8 ranges are found: post-training calibration or quantization-aware training.

    Attributes:
        qat: fake quantization during training (``prepare_qat_pt2e``) instead of post-training observers.
        observer: post-training activation observer: ``minmax`` or ``histogram`` (clips outliers; slower).
        activation_averaging: QAT's moving min/max averaging constant for activations (torch's default 0.01).
        weight_averaging: the same for the per-channel weight ranges; 1 follows the current weights exactly.
    """

    qat: bool = False
    observer: str = "minmax"
    activation_averaging: float = 0.01
    weight_averaging: float = 1.0

    def __post_init__(self) -> None:
        if self.observer not in OBSERVERS:
            raise ValueError(f"observer must be one of {', '.join(OBSERVERS)}, got {self.observer!r}")
        for key in ("activation_averaging", "weight_averaging"):
            value = float(getattr(self, key))
            if not 0.0 < value <= 1.0:
                raise ValueError(f"{key} must be in (0, 1], got {value}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def specs(self) -> tuple[Any, Any]:
        """The torchao ``QuantizationSpec`` of activations and of weights."""
        from torchao.quantization.pt2e import observer as obs
        from torchao.quantization.pt2e.fake_quantize import FakeQuantize
        from torchao.quantization.pt2e.quantizer import QuantizationSpec

        if self.qat:
            # FakeQuantize computes its scales with the observer's own calculate_qparams, as convert_pt2e does (the
            # fused kernel's per-channel scales differ from it by up to 1 %)
            act_ctr = FakeQuantize.with_args(
                observer=obs.MovingAverageMinMaxObserver, averaging_constant=self.activation_averaging, eps=EPS
            )
            weight_ctr = FakeQuantize.with_args(
                observer=obs.MovingAveragePerChannelMinMaxObserver, averaging_constant=self.weight_averaging, eps=EPS
            )
        else:
            act_ctr = (obs.HistogramObserver if self.observer == "histogram" else obs.MinMaxObserver).with_args(eps=EPS)
            weight_ctr = obs.PerChannelMinMaxObserver.with_args(eps=EPS)
        act = QuantizationSpec(
            dtype=torch.int8,
            quant_min=-128,
            quant_max=127,
            qscheme=torch.per_tensor_affine,
            is_dynamic=False,
            observer_or_fake_quant_ctr=act_ctr,
        )
        weight = QuantizationSpec(
            dtype=torch.int8,
            quant_min=-127,
            quant_max=127,
            qscheme=torch.per_channel_symmetric,
            ch_axis=0,
            is_dynamic=False,
            observer_or_fake_quant_ctr=weight_ctr,
        )
        return act, weight


def _aten_sets() -> tuple[set[Any], set[Any], set[Any], set[Any], set[Any]]:
    aten = torch.ops.aten
    weighted = {aten.conv1d.default, aten.conv2d.default, aten.linear.default}
    binary = {aten.add.Tensor, aten.mul.Tensor, aten.sub.Tensor}
    batch_norm = {aten.batch_norm.default, aten._native_batch_norm_legit_no_training.default}
    fusable = {aten.relu.default, aten.relu_.default, aten.relu6.default, aten.hardtanh.default, aten.hardtanh_.default}
    same = {
        aten.max_pool2d.default,
        aten.max_pool1d.default,
        aten.avg_pool2d.default,
        aten.avg_pool1d.default,
        aten.adaptive_max_pool2d.default,
        aten.flatten.using_ints,
        aten.view.default,
        aten.reshape.default,
        aten.squeeze.dim,
        aten.squeeze.dims,
        aten.unsqueeze.default,
        aten.permute.default,
        aten.transpose.int,
        aten.movedim.int,
        aten.contiguous.default,
        aten.clone.default,
        aten.dropout.default,
        aten.pad.default,
        aten.constant_pad_nd.default,
        aten.cat.default,
    }
    return weighted, binary, batch_norm, fusable, same


def _is_float(node: Any) -> bool:
    value = node.meta.get("val") if isinstance(node, fx.Node) else None
    return isinstance(value, torch.Tensor) and value.is_floating_point()


def int8_quantizer(scheme: Int8Scheme) -> Any:
    """A torchao PT2E ``Quantizer`` with TFLite-Micro's int8 rules (the module docstring lists them)."""
    return _quantizer_class()(scheme)


@functools.cache
def _quantizer_class() -> type:
    """The quantizer class, defined on first use: importing torchao takes a second, which a trial that never
    quantizes (and ``import core.trial.int8``) should not pay."""
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation, Quantizer, SharedQuantizationSpec

    class Int8Quantizer(Quantizer):  # type: ignore[misc]
        def __init__(self, scheme: Int8Scheme) -> None:
            super().__init__()
            self.scheme = scheme

        def annotate(self, model: fx.GraphModule) -> fx.GraphModule:
            act, weight = self.scheme.specs()
            weighted, binary, batch_norm, fusable, same = _aten_sets()

            def annotate(node: fx.Node, inputs: dict[fx.Node, Any], output: Any = None) -> None:
                node.meta["quantization_annotation"] = QuantizationAnnotation(
                    input_qspec_map=inputs, output_qspec=output, _annotated=True
                )

            for node in model.graph.nodes:
                if node.op != "call_function" or "quantization_annotation" in node.meta or not _is_float(node):
                    continue
                target = node.target
                if target is operator.getitem:
                    continue
                if target in same:
                    args = node.args[0] if target is torch.ops.aten.cat.default else node.args[:1]
                    tensors = [a for a in args if isinstance(a, fx.Node)]
                    if not tensors:
                        continue
                    first = tensors[0]
                    shared = SharedQuantizationSpec((first, node))
                    annotate(node, {first: act, **{a: shared for a in tensors[1:]}}, shared)
                    continue
                if target in weighted:
                    inputs = {node.args[0]: act, node.args[1]: weight}
                elif target in batch_norm:
                    inputs = {}
                else:
                    inputs = {a: act for a in node.args if isinstance(a, fx.Node) and _is_float(a)}
                users = list(node.users)
                if target in weighted and len(users) == 1 and users[0].target in batch_norm:
                    annotate(node, inputs)  # the BatchNorm (folded into the conv) quantizes the output
                elif target in weighted | binary | batch_norm and len(users) == 1 and users[0].target in fusable:
                    annotate(node, inputs)
                    annotate(users[0], {}, act)  # fused: one quantization, after the activation
                else:
                    annotate(node, inputs, act)
            return model

        def validate(self, model: fx.GraphModule) -> None:
            """Nothing to check beyond what ``annotate`` already refuses to annotate."""

    return Int8Quantizer
