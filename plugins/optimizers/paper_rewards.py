"""The MC rewards ``mobo_ars`` offers besides its closed-form log EHVI: the paper's scalarized log-EI (ParEGO)
and BoTorch's qLogNEHVI, each over a fitted :class:`core.api.Surrogate`."""

from __future__ import annotations

import numpy as np
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.logei import qLogExpectedImprovement
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.acquisition.objective import GenericMCObjective
from botorch.utils.multi_objective.scalarization import get_chebyshev_scalarization
from botorch.utils.sampling import sample_simplex

from core.api import DTYPE, Surrogate, x_pending


def scalarized_log_ei(sur: Surrogate, mc_samples: int, pending: np.ndarray) -> AcquisitionFunction:
    """MC log-EI of an augmented Chebyshev scalarization under fresh random simplex weights (ParEGO; the paper).

    The improvement is over the best scalarized *observation*; only the new points' posterior is sampled, so a
    call costs the same at 10 and at 150 observations."""
    weights = sample_simplex(sur.y.shape[-1], dtype=DTYPE).squeeze(0)
    scalarize = get_chebyshev_scalarization(weights=weights, Y=sur.y)
    return qLogExpectedImprovement(
        model=sur.model,
        best_f=scalarize(sur.y).max(),
        sampler=sur.sampler(mc_samples),
        objective=GenericMCObjective(lambda samples, X=None: scalarize(samples)),
        X_pending=x_pending(pending),
    )


def log_nehvi(sur: Surrogate, mc_samples: int, pending: np.ndarray) -> AcquisitionFunction:
    """BoTorch's qLogNEHVI over every trial as the baseline."""
    return qLogNoisyExpectedHypervolumeImprovement(
        model=sur.model,
        ref_point=sur.ref_point,
        X_baseline=sur.x,
        prune_baseline=True,
        sampler=sur.sampler(mc_samples),
        X_pending=x_pending(pending),
    )
