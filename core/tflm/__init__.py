"""The TensorFlow Lite for Microcontrollers toolchain: what the cost model replays and what checks it.

:mod:`~core.tflm.planner` is TFLM's greedy arena planner (pure Python, used by every board's cost model);
:mod:`~core.tflm.tflite_graph` reads a ``.tflite`` file; :mod:`~core.tflm.runtime` lowers the int8 graph with
litert-torch and runs TFLM's interpreter (the ``tflm`` extra); :mod:`~core.tflm.export` writes the Pareto models
as ``.tflite`` files and C arrays, and :mod:`~core.tflm.measure` measures them in the real runtime.

This package imports nothing on its own.
"""
