"""``optimizer=qlognparego``: BoTorch's qLogNParEGO, random augmented-Chebyshev scalarizations (the paper's qParEGO)."""

from __future__ import annotations

import numpy as np
import torch
from botorch.acquisition.multi_objective.parego import qLogNParEGO
from botorch.models.model import Model
from botorch.utils.sampling import sample_simplex

from core.api import DTYPE, AcquisitionOptimizer, fit_gp, mc_sampler, x_pending


class QLogNParEGO(AcquisitionOptimizer):
    """Latin-hypercube design, then one qLogNParEGO candidate per random simplex weight vector.

    Points still being evaluated (``set_pending``, in an asynchronous search) are the acquisition's ``X_pending``:
    qLogNParEGO (incremental, BoTorch's default) counts their unknown outcomes as part of the incumbent, so a
    proposal must improve on them. With several candidates, each one is then chosen given the pending points and
    the candidates before it. Without pending points nothing changes.

    Knobs (``n_init``, ``mc_samples``, ``num_restarts``, ``raw_samples``, ``maxiter``): see
    :class:`core.search.model_based.AcquisitionOptimizer`.
    """

    def propose(self, n: int, rng: np.random.Generator) -> np.ndarray:
        x, y = self.training_data()
        model = fit_gp(x, y)
        pending = x_pending(self.pending)
        if pending is None:
            return self.maximize([self._acquisition(model, x, y, None) for _ in range(n)], n)
        # optimize_acqf_list conditions each function on the candidates before it through set_X_pending, which
        # would replace (not extend) the pending points of an incremental qLogNParEGO: choose them one by one
        chosen: list[torch.Tensor] = []
        for _ in range(n):
            acq = self._acquisition(model, x, y, torch.cat([pending, *chosen], dim=-2))
            chosen.append(torch.as_tensor(self.maximize([acq], 1), dtype=DTYPE))
        return torch.cat(chosen, dim=-2).numpy()

    def _acquisition(self, model: Model, x: torch.Tensor, y: torch.Tensor, pending: torch.Tensor | None) -> qLogNParEGO:
        """qLogNParEGO for a fresh random weight vector, given the pending points (``None``: none)."""
        return qLogNParEGO(
            model=model,
            X_baseline=x,
            scalarization_weights=sample_simplex(y.shape[-1], dtype=DTYPE).squeeze(0),
            prune_baseline=True,
            sampler=mc_sampler(self.mc_samples),
            X_pending=pending,
        )
