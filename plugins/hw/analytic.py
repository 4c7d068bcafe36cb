"""Analytic int8 cost model for TFLite-Micro-style deployment: flash, peak SRAM, MACs and latency.

The model is traced with torch.fx (float or torch.ao-quantized graphs alike) and shape-propagated on one
input. Accounting, per deployed int8 model:

* flash: int8 weights + int32 biases (one per output channel; BatchNorm is folded into them) + per-channel
  quantization parameters (float32 scale + int64 zero point, for weights and biases) + flatbuffer overhead
  (~1 KiB fixed + ~150 B per tensor, as measured for TFLite files). The runtime's code is not included: the
  board subtracts ``runtime_flash_bytes`` from its capacity.
* SRAM: peak of the sum of live int8 activation buffers over the op schedule (a buffer lives from the op that
  writes it to its last reader). BatchNorm, activations, flatten/dropout and (de)quantize ops are fused or
  free in deployment, so they alias their input buffer.
* MACs: Conv and Linear only: ``out_elements * in_channels/groups * prod(kernel)`` and ``out_elements * in``.
* latency: ``macs * cycles_per_mac / clock_hz``.
"""

from __future__ import annotations

import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from core.interfaces.hardware import Cost, HardwareTarget

_FREE_MODULES = (
    nn.BatchNorm1d, nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.Dropout, nn.Identity, nn.Flatten,
)  # fmt: skip
_FREE_MODULE_NAMES = {"BatchNorm1d", "BatchNorm2d", "ReLU", "ReLU6", "Dropout", "Identity", "Flatten"}
_FREE_FUNCTIONS = {torch.quantize_per_tensor, torch.flatten, torch.relu, torch.nn.functional.relu}
_FREE_METHODS = {"dequantize", "flatten", "view", "reshape", "contiguous", "relu"}
FLATBUFFER_FIXED_BYTES = 1024
FLATBUFFER_PER_TENSOR_BYTES = 150
QPARAM_BYTES_PER_CHANNEL = 12  # float32 scale + int64 zero point


def _layer(m: nn.Module) -> tuple[str, int, int, tuple[int, ...], int, int] | None:
    """``(kind, in, out, kernel, groups, weight_numel)`` for float or quantized Conv/Linear, else None."""
    weight = getattr(m, "weight", None)
    w = weight() if callable(weight) and not isinstance(weight, torch.Tensor) else weight
    if not isinstance(w, torch.Tensor):
        return None
    if hasattr(m, "in_channels") and hasattr(m, "kernel_size"):
        ks = m.kernel_size if isinstance(m.kernel_size, tuple) else (m.kernel_size,)
        return (
            "conv",
            int(m.in_channels),
            int(m.out_channels),
            tuple(int(k) for k in ks),
            int(m.groups),
            w.numel(),
        )
    if hasattr(m, "in_features") and hasattr(m, "out_features"):
        return "linear", int(m.in_features), int(m.out_features), (), 1, w.numel()
    return None


class AnalyticTarget(HardwareTarget):
    """A board described by its capacities, costed with the analytic int8 model above.

    Args:
        name: board name.
        flash_bytes / sram_bytes: capacities in bytes.
        runtime_flash_bytes: inference runtime code in flash (interpreter + kernels), bytes.
        reserved_sram_bytes: SRAM kept for stack, heap and application, bytes.
        clock_hz: core clock.
        core: CPU core name (e.g. ``cortex-m4f``).
        cycles_per_mac: average cycles per int8 MAC of the runtime's kernels on this core.
        max_macs: MAC budget (the ``macs`` objective's reference point).
        max_latency_s: latency budget (the ``latency`` objective's reference point).
        activation_bytes: bytes per activation element (1 for int8).
    """

    def __init__(
        self,
        name: str,
        flash_bytes: int,
        sram_bytes: int,
        runtime_flash_bytes: int,
        reserved_sram_bytes: int,
        clock_hz: float,
        core: str,
        cycles_per_mac: float,
        max_macs: int,
        max_latency_s: float,
        activation_bytes: int = 1,
    ) -> None:
        if flash_bytes <= runtime_flash_bytes or sram_bytes <= reserved_sram_bytes:
            raise ValueError(
                f"board {name}: runtime_flash_bytes/reserved_sram_bytes leave no room "
                f"(flash {flash_bytes} vs {runtime_flash_bytes}, SRAM {sram_bytes} vs {reserved_sram_bytes})"
            )
        self.name = name
        self.flash_bytes, self.sram_bytes = int(flash_bytes), int(sram_bytes)
        self.runtime_flash_bytes, self.reserved_sram_bytes = (
            int(runtime_flash_bytes),
            int(reserved_sram_bytes),
        )
        self.clock_hz, self.core, self.cycles_per_mac = float(clock_hz), core, float(cycles_per_mac)
        self.max_macs, self.max_latency_s = int(max_macs), float(max_latency_s)
        self.activation_bytes = int(activation_bytes)

    def cost(self, model: nn.Module, input_shape: tuple[int, ...]) -> Cost:
        gm = model if isinstance(model, fx.GraphModule) else fx.symbolic_trace(model)
        was_training = gm.training
        gm.eval()
        with torch.no_grad():
            ShapeProp(gm).propagate(torch.zeros(1, *input_shape))
        gm.train(was_training)
        modules = dict(gm.named_modules())

        nodes = [n for n in gm.graph.nodes if n.op not in ("get_attr",)]
        step = {n: i for i, n in enumerate(nodes)}
        root: dict[fx.Node, fx.Node] = {}  # node -> node owning its buffer
        weight_b = bias_b = qparam_b = macs = 0
        n_tensors = 0
        for n in nodes:
            if n.op == "output":
                continue
            src = _first_tensor_arg(n)
            layer = _layer(modules[n.target]) if n.op == "call_module" else None
            if layer is not None:
                kind, c_in, c_out, ks, groups, w_numel = layer
                out_elems = _numel(n)
                # conv: each output element sums in/groups * kernel products; linear: each output sums c_in
                macs += out_elems * (c_in // groups) * _prod(ks) if kind == "conv" else out_elems * c_in
                weight_b += w_numel
                bias_b += 4 * c_out
                qparam_b += 2 * QPARAM_BYTES_PER_CHANNEL * c_out
                n_tensors += 2
                root[n] = n
            elif src is not None and _is_free(n, modules):
                root[n] = root.get(src, src)
            else:
                root[n] = n
            if root[n] is n and _numel(n) > 0:  # size() and other non-tensor values are not tensors
                n_tensors += 1

        # liveness: each buffer lives from its writer's step to the last step reading it (or an alias of it)
        start = {b: step[b] for b in set(root.values())}
        end = dict(start)
        for n in nodes:
            for a in n.all_input_nodes:
                if a in root:
                    b = root[a]
                    end[b] = max(end[b], step[n])
        size = {b: _numel(b) * self.activation_bytes for b in start}
        peak = 0
        for t in range(len(nodes)):
            peak = max(peak, sum(size[b] for b in start if start[b] <= t <= end[b]))

        overhead = FLATBUFFER_FIXED_BYTES + FLATBUFFER_PER_TENSOR_BYTES * n_tensors
        flash = weight_b + bias_b + qparam_b + overhead
        return Cost(
            flash_bytes=int(flash),
            ram_bytes=int(peak),
            macs=int(macs),
            latency_s=macs * self.cycles_per_mac / self.clock_hz,
            details={
                "weight_bytes": weight_b,
                "bias_bytes": bias_b,
                "qparam_bytes": qparam_b,
                "flatbuffer_overhead_bytes": overhead,
                "activation_peak_bytes": peak,
            },
        )


def _is_free(n: fx.Node, modules: dict[str, nn.Module]) -> bool:
    if n.op == "call_module":
        m = modules[str(n.target)]
        # torch.ao's quantized BatchNorm/ReLU are not subclasses of the float ones: match by name too
        return isinstance(m, _FREE_MODULES) or type(m).__name__ in _FREE_MODULE_NAMES
    if n.op == "call_function":
        return n.target in _FREE_FUNCTIONS
    if n.op == "call_method":
        return n.target in _FREE_METHODS
    return False


def _first_tensor_arg(n: fx.Node) -> fx.Node | None:
    for a in n.args:
        if isinstance(a, fx.Node) and a.op != "get_attr":
            return a
    return None


def _numel(n: fx.Node) -> int:
    meta = n.meta.get("tensor_meta")
    if meta is None or not hasattr(meta, "shape"):
        return 0
    return _prod(tuple(int(d) for d in meta.shape))


def _prod(xs: tuple[int, ...]) -> int:
    p = 1
    for x in xs:
        p *= x
    return p
