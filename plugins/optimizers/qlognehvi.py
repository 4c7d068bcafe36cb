"""``optimizer=qlognehvi``: BoTorch's qLogNEHVI (log noisy expected hypervolume improvement) on GP surrogates."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.optim import optimize_acqf
from botorch.sampling import SobolQMCNormalSampler

from core.surrogate import DTYPE, ModelBasedOptimizer, fit_gp


class QLogNEHVI(ModelBasedOptimizer):
    """Latin-hypercube design, then batches maximizing qLogNEHVI over a ModelListGP.

    Args:
        n_init: initial design size.
        mc_samples: quasi-MC samples of the acquisition value.
        num_restarts / raw_samples: multi-start L-BFGS-B settings of ``optimize_acqf``.
        maxiter: L-BFGS-B iterations per restart.
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
        acq = qLogNoisyExpectedHypervolumeImprovement(
            model=model,
            ref_point=self.ref_point_max(),
            X_baseline=x,
            prune_baseline=True,
            sampler=SobolQMCNormalSampler(sample_shape=torch.Size([self.mc_samples])),
        )
        bounds = torch.stack([torch.zeros(self.problem.dim, dtype=DTYPE), torch.ones(self.problem.dim, dtype=DTYPE)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cand, _ = optimize_acqf(
                acq, bounds=bounds, q=n, num_restarts=self.num_restarts, raw_samples=self.raw_samples,
                options={"batch_limit": 5, "maxiter": self.maxiter}, sequential=True,
            )  # fmt: skip
        return cand.detach().numpy()
