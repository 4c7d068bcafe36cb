"""``optimizer=nsga2``: pymoo's NSGA-II (non-dominated sorting + crowding distance) through its ask/tell interface.

A generation is handed out point by point over as many ``ask`` calls as it takes and is told to pymoo once every
one of its points has been told, or, in an asynchronous search, once it is used up while some of its points are
still running (those are then told with the next generation). Resume replays the told history through a fresh,
identically seeded algorithm, because pymoo's objects are not JSON.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pymoo.algorithms.moo.nsga2 import NSGA2 as PymooNSGA2
from pymoo.core.population import Population
from pymoo.core.problem import Problem as PymooProblem
from pymoo.core.termination import NoTermination

from core.api import Optimizer, Problem


class NSGA2(Optimizer):
    """NSGA-II over the unit cube, deterministic given the problem seed and exactly resumable.

    The tinymoo search asks ``n`` points at a time, and ``n`` need not divide the population. Points of the
    current generation are handed out in order; when an ``ask`` needs more points than the generation has left
    and the generation cannot be told yet (its last points are still being evaluated), the generation is
    *extended* with extra offspring mated from the current parents (random samples in the first generation).
    pymoo's survival then selects ``pop_size`` parents from parents plus the whole, extended generation.

    In an asynchronous search, points of a generation are still running when the next ask comes (the search
    asks whenever a worker is free). Extending the generation each time would keep it open for ever, so when a
    generation is used up while points asked in *earlier* calls are still running, and at least half of it (and
    two points) has been told, it is *closed*: pymoo is told its evaluated part and mates the next generation,
    and the running points are carried into that generation (handed out already, never again) and told with it.
    Points asked and not yet told are never handed out again, so the optimizer keeps its own record of the
    pending points and ignores :meth:`~core.interfaces.optimizer.Optimizer.set_pending`. A synchronous search
    tells every batch before the next ask, so it never closes a generation early.

    Failed trials (non-finite rows) are told to pymoo as ``failed_penalty`` times the reference point, so they
    lose every comparison and leave the population. Infeasible trials keep their measured objectives.

    Args:
        pop_size: population size, also the number of offspring per generation.
        failed_penalty: multiple of the reference point told for failed trials.
    """

    def __init__(self, pop_size: int = 20, failed_penalty: float = 10.0) -> None:
        if int(pop_size) < 2:
            raise ValueError(f"pop_size must be >= 2, got {pop_size}")
        self.pop_size = int(pop_size)
        self.failed_penalty = float(failed_penalty)

    def setup(self, problem: Problem) -> None:
        super().setup(problem)
        self._pymoo_problem = PymooProblem(n_var=problem.dim, n_obj=len(problem.objective_names), xl=0.0, xu=1.0)
        self._algorithm = PymooNSGA2(pop_size=self.pop_size, eliminate_duplicates=True, seed=problem.seed)
        self._algorithm.setup(self._pymoo_problem, termination=NoTermination(), verbose=False)
        self._asked = 0  # individuals handed out so far (global index of the next one)
        self._extensions: list[list[int]] = []  # [generation, size] of every extension, in order
        self._closes: list[list[int]] = []  # [generation, number of tells so far] of every early close, in order
        self._told_index: list[int] = []  # global index of each told individual, in telling order
        self._told_x: list[list[float]] = []
        self._told_y: list[list[float]] = []
        self._told_feasible: list[bool] = []
        self._generation = -1
        self._gen_start = 0
        self._gen_pop = Population.empty()
        self._gen_f = np.zeros((0, len(problem.objective_names)))
        self._gen_told = np.zeros(0, dtype=bool)
        self._next_generation()

    # -- generations ------------------------------------------------------------------------------------------
    def _next_generation(self, carry: Population | None = None) -> None:
        """Ask pymoo for the next generation (random samples if mating produced nothing) and queue it, after the
        still-running individuals ``carry`` of a closed generation (which were handed out already)."""
        self._gen_start += len(self._gen_pop)
        self._generation += 1
        pop = self._algorithm.ask()
        if pop is None or len(pop) == 0:  # every offspring was a duplicate: pymoo gives up, we sample instead
            self._algorithm.termination.force_termination = False
            pop = self._sample(self.pop_size, mate=False)
        if carry is not None and len(carry):
            pop = Population.merge(carry, pop)
        self._set_queue(pop, keep=0)

    def _sample(self, n: int, mate: bool) -> Population:
        """``n`` new individuals: offspring of the current parents (``mate``) topped up with random samples."""
        alg = self._algorithm
        out = Population.empty()
        if mate:
            out = alg.mating.do(self._pymoo_problem, alg.pop, n, algorithm=alg, random_state=alg.random_state)
        while len(out) < n:
            more = alg.initialization.do(
                self._pymoo_problem, n - len(out), algorithm=alg, random_state=alg.random_state
            )
            out = Population.merge(out, more)
        return out[:n]

    def _extend(self, n: int) -> None:
        """Append ``n`` extra individuals to the current generation (it stays untold until they are told too)."""
        extra = self._sample(n, mate=self._algorithm.is_initialized)
        self._set_queue(Population.merge(self._gen_pop, extra), keep=len(self._gen_pop))

    def _close(self) -> None:
        """Tell pymoo the told part of the current (used-up) generation and start the next one, carrying the
        untold individuals (all handed out, still running) over to it as its first, already handed-out ones."""
        self._closes.append([self._generation, len(self._told_index)])
        told = self._gen_told.copy()
        done = self._gen_pop[told]
        done.set("F", self._gen_f[told])
        carry = self._gen_pop[~told]
        self._algorithm.tell(infills=done)
        self._next_generation(carry)
        self._asked = self._gen_start + len(carry)

    def _set_queue(self, pop: Population, keep: int) -> None:
        """Make ``pop`` the current generation, keeping what was told about its first ``keep`` individuals."""
        f = np.full((len(pop), len(self.problem.objective_names)), np.nan)
        f[:keep] = self._gen_f[:keep]
        told = np.zeros(len(pop), dtype=bool)
        told[:keep] = self._gen_told[:keep]
        self._gen_pop, self._gen_f, self._gen_told = pop, f, told
        self._gen_x = np.clip(np.asarray(pop.get("X"), dtype=float).reshape(len(pop), self.problem.dim), 0.0, 1.0)

    def _record(self, index: int, y: np.ndarray) -> None:
        """Store the objectives of individual ``index`` (``m``); tell pymoo once the generation is complete."""
        k = index - self._gen_start
        finite = bool(np.all(np.isfinite(y)))
        ref = np.asarray(self.problem.ref_point, dtype=float)
        self._gen_f[k] = y if finite else self.failed_penalty * ref
        self._gen_told[k] = True
        if self._gen_told.all():
            self._gen_pop.set("F", self._gen_f.copy())
            self._algorithm.tell(infills=self._gen_pop)
            self._next_generation()

    def _can_close(self, asked_before: int) -> bool:
        """Whether the used-up current generation may be closed: individuals handed out before global index
        ``asked_before`` (in earlier asks) are still running, and at least half of it (two at least) is told."""
        running = not self._gen_told[: max(0, asked_before - self._gen_start)].all()
        return running and int(self._gen_told.sum()) >= max(2, math.ceil(len(self._gen_pop) / 2))

    # -- ask/tell ---------------------------------------------------------------------------------------------
    def ask(self, n: int) -> np.ndarray:
        out = [np.zeros((0, self.problem.dim))]
        asked_before = self._asked  # running individuals were handed out before this call
        while (need := n - sum(len(x) for x in out)) > 0:
            left = self._gen_start + len(self._gen_pop) - self._asked
            if left == 0:
                if self._can_close(asked_before):
                    self._close()
                    asked_before = self._asked  # the carried individuals: still running
                else:
                    self._extensions.append([self._generation, need])
                    self._extend(need)
                continue
            k = self._asked - self._gen_start
            take = min(left, need)
            out.append(self._gen_x[k : k + take].copy())
            self._asked += take
        return np.concatenate(out, axis=0)

    def tell(self, x: np.ndarray, y: np.ndarray, feasible: np.ndarray) -> None:
        """Match each told row to an asked, untold point of the current generation (by ``x``) and record it.

        Rows may come in any order and in any grouping (an asynchronous search tells each as it finishes).

        Raises:
            ValueError: if a row matches no point that was asked and not yet told.
        """
        x = np.asarray(x, dtype=float).reshape(-1, self.problem.dim)
        y = np.asarray(y, dtype=float).reshape(len(x), -1)
        feasible = np.asarray(feasible, dtype=bool).reshape(len(x))
        for xi, yi, fi in zip(x, y, feasible, strict=True):
            index = self._match(xi)
            self._told_index.append(index)
            self._told_x.append(xi.tolist())
            self._told_y.append(yi.tolist())
            self._told_feasible.append(bool(fi))
            self._record(index, yi)

    def _match(self, x: np.ndarray) -> int:
        """Global index of the first asked, untold individual at ``x`` (``d``)."""
        k_asked = self._asked - self._gen_start
        for k in np.flatnonzero(~self._gen_told[:k_asked]):
            if np.allclose(self._gen_x[k], x, rtol=0.0, atol=1e-9):
                return self._gen_start + int(k)
        raise ValueError(f"NSGA2 was told a point it did not ask for (or was told it twice): {x.tolist()}")

    # -- state ------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "asked": self._asked,
            "extensions": [list(e) for e in self._extensions],
            "closes": [list(c) for c in self._closes],
            "told_index": list(self._told_index),
            "x": [list(r) for r in self._told_x],
            "y": [[v if math.isfinite(v) else None for v in row] for row in self._told_y],
            "feasible": list(self._told_feasible),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replay the told history through a freshly seeded algorithm, then restore the asked-but-untold points.

        Within a generation only its extensions and its end (complete, or closed early) draw random numbers, so
        the replay extends each generation first, then tells its points up to its end.

        Raises:
            RuntimeError: if the replay does not reproduce the stored points (e.g. a different pymoo version).
        """
        self.setup(self.problem)
        extensions = [(int(g), int(n)) for g, n in state["extensions"]]
        closes = [(int(g), int(t)) for g, t in state.get("closes", [])]
        told = [
            (
                int(i),
                np.asarray(x, dtype=float),
                np.array([np.nan if v is None else v for v in y], dtype=float),
                bool(f),
            )
            for i, x, y, f in zip(state["told_index"], state["x"], state["y"], state["feasible"], strict=True)
        ]
        asked = int(state["asked"])
        ext_pos, told_pos, close_pos = 0, 0, 0
        while True:  # one pass per generation; _record and _close move to the next generation
            generation = self._generation
            while ext_pos < len(extensions) and extensions[ext_pos][0] == generation:
                self._extend(extensions[ext_pos][1])
                self._extensions.append([generation, extensions[ext_pos][1]])
                ext_pos += 1
            closes_at = closes[close_pos][1] if close_pos < len(closes) and closes[close_pos][0] == generation else None
            gen_end = self._gen_start + len(self._gen_pop)
            while (
                told_pos < len(told)
                and self._generation == generation
                and told[told_pos][0] < gen_end
                and (closes_at is None or told_pos < closes_at)
            ):
                index, x, y, feasible = told[told_pos]
                if not np.allclose(self._gen_x[index - self._gen_start], x, rtol=0.0, atol=1e-9):
                    raise RuntimeError("NSGA2 replay diverged from the stored history (was pymoo upgraded?)")
                self._told_index.append(index)
                self._told_x.append(x.tolist())
                self._told_y.append(y.tolist())
                self._told_feasible.append(feasible)
                self._record(index, y)
                told_pos += 1
            if self._generation == generation and closes_at is not None and told_pos == closes_at:
                self._close()
                close_pos += 1
                continue
            if self._generation == generation:  # the current generation is still open: done
                break
        if (
            told_pos != len(told)
            or ext_pos != len(extensions)
            or close_pos != len(closes)
            or asked > self._gen_start + len(self._gen_pop)
        ):
            raise RuntimeError("NSGA2 state is inconsistent: history left over after replay")
        self._asked = asked
