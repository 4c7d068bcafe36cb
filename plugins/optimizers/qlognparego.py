"""``optimizer=qlognparego``: BoTorch's qLogNParEGO, random augmented-Chebyshev scalarizations (the paper's qParEGO)."""

from __future__ import annotations

import numpy as np
from botorch.acquisition.multi_objective.parego import qLogNParEGO
from botorch.utils.sampling import sample_simplex

from core.surrogate import DTYPE, AcquisitionOptimizer, fit_gp, mc_sampler


class QLogNParEGO(AcquisitionOptimizer):
    """Latin-hypercube design, then one qLogNParEGO candidate per random simplex weight vector.

    Knobs (``n_init``, ``mc_samples``, ``num_restarts``, ``raw_samples``, ``maxiter``): see
    :class:`core.surrogate.AcquisitionOptimizer`.
    """

    def propose(self, n: int, rng: np.random.Generator) -> np.ndarray:
        x, y = self.training_data()
        model = fit_gp(x, y)
        acqs = [
            qLogNParEGO(
                model=model,
                X_baseline=x,
                scalarization_weights=sample_simplex(y.shape[-1], dtype=DTYPE).squeeze(0),
                prune_baseline=True,
                sampler=mc_sampler(self.mc_samples),
            )
            for _ in range(n)
        ]
        return self.maximize(acqs, n)
