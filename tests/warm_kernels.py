"""Compile BoTorch's fused log-EI C++ kernel once (``make warm``), so no test pays the ~40 s first-call cost."""

from __future__ import annotations

import time

import numpy as np


def main() -> None:
    """Run one tiny qLogNEHVI proposal; the compiled kernel is cached under ~/.cache/torch_extensions."""
    from core.interfaces.optimizer import Problem
    from plugins.optimizers.qlognehvi import QLogNEHVI

    start = time.perf_counter()
    opt = QLogNEHVI(n_init=3, mc_samples=8, num_restarts=1, raw_samples=8, maxiter=2)
    opt.setup(Problem(dim=2, objective_names=("a", "b"), ref_point=(1.0, 1.0), seed=0))
    x = opt.ask(3)
    opt.tell(x, np.stack([x[:, 0], 1 - x[:, 1]], axis=1), np.ones(3, dtype=bool))
    opt.ask(1)
    print(f"warmed BoTorch kernels in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
