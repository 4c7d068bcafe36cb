"""tinymoo core: the small, stable part (interfaces, search space, search loop, store, Pareto, report)."""

__version__ = "0.1.0"
