"""A .tflite model's first subgraph as plain data: operators, tensors and the arena buffers TFLM plans.

Reads the flatbuffer with the schema bundled in ``tflite-micro`` (the ``tflm`` extra). Used to check exported
models (all int8, no float tensors) and to replay TFLM's memory planner over the exact converted graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from core.tflm.planner import Buffer

DTYPE_BYTES = {"FLOAT32": 4, "FLOAT16": 2, "INT32": 4, "UINT8": 1, "INT64": 8, "BOOL": 1, "INT16": 2, "INT8": 1}


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: str
    constant: bool

    @property
    def nbytes(self) -> int:
        n = 1
        for s in self.shape:
            n *= int(s)
        return n * DTYPE_BYTES.get(self.dtype, 4)


@dataclass(frozen=True)
class Operator:
    op: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


@dataclass(frozen=True)
class TfliteGraph:
    """Subgraph 0 of a .tflite flatbuffer."""

    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    size_bytes: int

    @classmethod
    def from_bytes(cls, data: bytes) -> TfliteGraph:
        from tflite_micro import runtime

        model = runtime.convert_bytearray_to_object(bytearray(data))
        sg = model.subgraphs[0]
        ops_by_code, types = _enum_names()
        tensors = []
        for t in sg.tensors:
            buf = model.buffers[t.buffer] if t.buffer is not None and t.buffer < len(model.buffers) else None
            has_data = buf is not None and (
                (buf.data is not None and len(buf.data) > 0) or bool(getattr(buf, "size", 0))
            )
            name = t.name.decode() if isinstance(t.name, bytes) else str(t.name)
            shape = tuple(int(s) for s in (t.shape if t.shape is not None else ()))
            tensors.append(Tensor(name, shape, types[int(t.type)], bool(has_data)))
        operators = []
        for op in sg.operators:
            code = runtime.get_builtin_code_from_operator_code(model.operatorCodes[op.opcodeIndex])
            operators.append(
                Operator(
                    ops_by_code[int(code)],
                    tuple(int(i) for i in (op.inputs if op.inputs is not None else ())),
                    tuple(int(i) for i in (op.outputs if op.outputs is not None else ())),
                )
            )
        return cls(
            tuple(tensors),
            tuple(operators),
            tuple(int(i) for i in sg.inputs),
            tuple(int(i) for i in sg.outputs),
            len(data),
        )

    def activation_buffers(self) -> list[Buffer]:
        """Every non-constant tensor with its lifetime, as TFLM's allocation-info builder computes it.

        Graph inputs live from op 0, an op's outputs from that op, every tensor until its last reader, and graph
        outputs until the last op. Tensor order is kept (it decides ties in the planner).
        """
        first: dict[int, int] = {i: 0 for i in self.inputs}
        last: dict[int, int] = {i: 0 for i in self.inputs}
        for k, op in enumerate(self.operators):
            for i in op.inputs:
                if i >= 0 and not self.tensors[i].constant:
                    first.setdefault(i, k)
                    last[i] = max(last.get(i, k), k)
            for i in op.outputs:
                first.setdefault(i, k)
                last[i] = max(last.get(i, k), k)
        end = len(self.operators) - 1
        for i in self.outputs:
            last[i] = end
        return [Buffer(self.tensors[i].nbytes, first[i], last[i]) for i in sorted(first)]

    def float_tensors(self) -> list[str]:
        """Names of non-constant float tensors (an all-int8 graph has none)."""
        return [t.name for t in self.tensors if t.dtype in ("FLOAT32", "FLOAT16") and not t.constant]

    def op_names(self) -> list[str]:
        return [op.op for op in self.operators]


@cache
def _enum_names() -> tuple[dict[int, str], dict[int, str]]:
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    def names(enum: Any) -> dict[int, str]:
        return {v: k for k, v in vars(enum).items() if not k.startswith("_") and isinstance(v, int)}

    return names(schema.BuiltinOperator), names(schema.TensorType)
