"""Gradient polish: a few L-BFGS-B steps on a differentiable acquisition, from the points an agent ensemble proposed.

ARS agents move in bounded steps and propose the best point of a short rollout; on continuous problems with many
inputs the best point of the acquisition often lies between their steps (DTLZ2's front needs its distance
variables at exactly 0.5, and a saturated linear policy ends on the cube's faces). BoTorch's L-BFGS-B
(:func:`botorch.generation.gen.gen_candidates_scipy`), started from the agents' proposals, finds the local
optimum near each one. It needs gradients, so it is only for problems whose every input is continuous and whose
acquisition is differentiable everywhere: no known costs (piecewise constant in the architecture) and no int or
categorical coordinates (a step inside one cell changes the GP input, not the configuration).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from botorch.acquisition import AcquisitionFunction
from botorch.generation.gen import gen_candidates_scipy

from core.api import DTYPE


def polished(acq: AcquisitionFunction, points: np.ndarray, steps: int) -> np.ndarray:
    """``points`` (``n x d`` in the unit cube) after at most ``steps`` L-BFGS-B iterations on ``acq`` (q=1), each
    within ``[0, 1]^d``; the starts themselves if the run fails. The caller compares each with its start."""
    start = torch.as_tensor(points, dtype=DTYPE).unsqueeze(1)
    # recorded, not shown: jitter, scipy's line search on a flat log EHVI, and BoTorch's OptimizationWarning for a
    # line search that ended early (it keeps its best point), which BoTorch raises with an "always" filter of its own
    with warnings.catch_warnings(record=True):
        try:
            found, _ = gen_candidates_scipy(start, acq, 0.0, 1.0, options={"maxiter": int(steps)})
        except (RuntimeError, ValueError):  # a non-finite gradient (e.g. zero variance): keep the starts
            return points
    return found.detach().squeeze(1).clamp(0.0, 1.0).numpy()
