"""``optimizer=qlognehvi``: BoTorch's qLogNEHVI (log noisy expected hypervolume improvement) on GP surrogates."""

from __future__ import annotations

import numpy as np
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement

from core.api import AcquisitionOptimizer, fit_gp, mc_sampler, x_pending


class QLogNEHVI(AcquisitionOptimizer):
    """Latin-hypercube design, then (sequentially greedy) batches maximizing qLogNEHVI over a ModelListGP.

    Points still being evaluated (``set_pending``, in an asynchronous search) are the acquisition's ``X_pending``:
    qLogNEHVI integrates over their unknown outcomes (they join its baseline), so a proposal improves on them
    rather than repeating them. Without pending points nothing changes.

    Knobs (``n_init``, ``mc_samples``, ``num_restarts``, ``raw_samples``, ``maxiter``): see
    :class:`core.search.model_based.AcquisitionOptimizer`.
    """

    def propose(self, n: int, rng: np.random.Generator) -> np.ndarray:
        x, y = self.training_data()
        acq = qLogNoisyExpectedHypervolumeImprovement(
            model=fit_gp(x, y),
            ref_point=self.ref_point_max(),
            X_baseline=x,
            prune_baseline=True,
            sampler=mc_sampler(self.mc_samples),
            X_pending=x_pending(self.pending),
        )
        return self.maximize([acq], n)
