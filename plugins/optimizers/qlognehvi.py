"""``optimizer=qlognehvi``: BoTorch's qLogNEHVI (log noisy expected hypervolume improvement) on GP surrogates."""

from __future__ import annotations

import numpy as np
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement

from core.surrogate import AcquisitionOptimizer, fit_gp, mc_sampler


class QLogNEHVI(AcquisitionOptimizer):
    """Latin-hypercube design, then (sequentially greedy) batches maximizing qLogNEHVI over a ModelListGP.

    Knobs (``n_init``, ``mc_samples``, ``num_restarts``, ``raw_samples``, ``maxiter``): see
    :class:`core.surrogate.AcquisitionOptimizer`.
    """

    def propose(self, n: int, rng: np.random.Generator) -> np.ndarray:
        x, y = self.training_data()
        acq = qLogNoisyExpectedHypervolumeImprovement(
            model=fit_gp(x, y),
            ref_point=self.ref_point_max(),
            X_baseline=x,
            prune_baseline=True,
            sampler=mc_sampler(self.mc_samples),
        )
        return self.maximize([acq], n)
