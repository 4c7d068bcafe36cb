"""``optimizer=qlognparego``: BoTorch's qLogNParEGO, random augmented-Chebyshev scalarizations (the paper's qParEGO)."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from botorch.acquisition.multi_objective.parego import qLogNParEGO
from botorch.optim.optimize import optimize_acqf_list
from botorch.sampling import SobolQMCNormalSampler
from botorch.utils.sampling import sample_simplex

from core.surrogate import DTYPE, ModelBasedOptimizer, fit_gp


class QLogNParEGO(ModelBasedOptimizer):
    """Latin-hypercube design, then one qLogNParEGO candidate per random simplex weight vector.

    Args:
        n_init: initial design size.
        mc_samples: quasi-MC samples of the acquisition value.
        num_restarts / raw_samples / maxiter: ``optimize_acqf`` settings.
    """

    def __init__(
        self, n_init: int = 10, mc_samples: int = 128, num_restarts: int = 8, raw_samples: int = 256, maxiter: int = 100
    ) -> None:
        super().__init__(n_init)
        self.mc_samples, self.num_restarts, self.raw_samples = int(mc_samples), int(num_restarts), int(raw_samples)
        self.maxiter = int(maxiter)

    def propose(self, n: int, rng: np.random.Generator) -> np.ndarray:
        x, y = self.training_data()
        model = fit_gp(x, y)
        m = y.shape[-1]
        acqs = [
            qLogNParEGO(
                model=model,
                X_baseline=x,
                scalarization_weights=sample_simplex(m, dtype=DTYPE).squeeze(0),
                prune_baseline=True,
                sampler=SobolQMCNormalSampler(sample_shape=torch.Size([self.mc_samples])),
            )
            for _ in range(n)
        ]
        bounds = torch.stack([torch.zeros(self.problem.dim, dtype=DTYPE), torch.ones(self.problem.dim, dtype=DTYPE)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cand, _ = optimize_acqf_list(
                acqs, bounds=bounds, num_restarts=self.num_restarts, raw_samples=self.raw_samples,
                options={"batch_limit": 5, "maxiter": self.maxiter},
            )  # fmt: skip
        return cand.detach().numpy()
