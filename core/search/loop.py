"""The search loop: ask(q) -> decode -> evaluate -> store -> tell, until ``search.n_trials`` are finished.

The store is written before every ask (see :mod:`core.search.store`), so a killed search resumes exactly with
``search.resume=true``.
"""

from __future__ import annotations

import functools
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
from omegaconf import DictConfig, OmegaConf

from core.errors import ConfigError, RunDirError
from core.interfaces import DatasetPlugin, Executor, HardwareTarget, Optimizer, SearchLogger
from core.interfaces.optimizer import Problem
from core.interfaces.trial import TrialResult, TrialSpec, TrialStatus
from core.plugins import instantiate
from core.report import front_hypervolume, write_outputs
from core.report.progress import SearchProgress
from core.search.checks import check_data, check_model_runs, check_trainer, reference_point
from core.search.config_values import check_values
from core.search.lookahead import Lookahead, Proposal
from core.search.pareto import normalize
from core.search.run_dir import RunLock, check_for_new, check_for_resume, storage_error
from core.search.store import STORE_NAME, Store
from core.trial.evaluate import build_compressors, evaluate_trial
from core.trial.known_costs import KnownCosts

log = logging.getLogger(__name__)


@dataclass
class SearchOutcome:
    """What a finished (or interrupted) search returns: the summary written to ``summary.json``."""

    summary: dict[str, Any]
    run_dir: Path


class Search:
    """Runs one search in ``run_dir`` from a composed config.

    Args:
        cfg: the composed run config (``conf/config.yaml`` plus overrides).
        run_dir: where the store, reports and models go.
        evaluate: the trial function (defaults to :func:`core.trial.evaluate.evaluate_trial`).
        show_progress: draw the rich progress bar and final table (default: ``search.progress``).
    """

    def __init__(
        self,
        cfg: DictConfig,
        run_dir: str | Path,
        evaluate: Callable[[TrialSpec], TrialResult] = evaluate_trial,
        show_progress: bool | None = None,
    ) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.evaluate = evaluate
        self.show_progress = bool(cfg.search.progress) if show_progress is None else show_progress
        self.objectives, self.space = check_values(cfg)
        self.n_trials = int(cfg.search.n_trials)
        check_trainer(cfg)
        self.hw: HardwareTarget = instantiate(cfg.hw, "hw")
        self.reference = reference_point(cfg, self.hw, self.objectives)
        self.optimizer: Optimizer = instantiate(cfg.optimizer, "optimizer")
        self.executor: Executor = instantiate(cfg.executor, "executor")
        self.logger: SearchLogger = instantiate(cfg.logger, "logger")
        batch = cfg.search.get("batch_size")
        self.batch_size = int(batch) if batch else max(int(self.executor.n_workers), 1)
        schedule = cfg.search.get("schedule", "auto")  # checked by check_values
        wanted = schedule == "async" or (schedule == "auto" and not batch)
        self.asynchronous = wanted and bool(getattr(self.executor, "streams", False))
        if schedule == "async" and not self.asynchronous:
            log.warning(
                "search.schedule=async: %s does not stream trials (Executor.streams), so the search runs batches",
                type(self.executor).__name__,
            )
        lookahead = cfg.search.get("lookahead", "auto")
        # auto: with several workers, whose completion order already decides the trajectory; one worker keeps the
        # exact sequential trajectory (each proposal knows every earlier result)
        several = int(self.executor.n_workers) > 1
        self.lookahead = self.asynchronous and (lookahead is True or (lookahead == "auto" and several))
        self._preflight()

    def _preflight(self) -> None:
        """Build every plugin once so bad input fails before the first trial, not inside each one."""
        limit = OmegaConf.select(self.cfg, "search.trial_timeout_s")  # a positive number (check_values)
        dataset: DatasetPlugin = instantiate(self.cfg.dataset, "dataset")
        _ = dataset.input_shape, dataset.num_classes  # raises DatasetError if the data is missing/corrupt
        check_data(self.cfg, dataset, float(limit))
        check_model_runs(self.cfg, self.space, self.hw, dataset)
        build_compressors(self.cfg)

    # ---------------------------------------------------------------------------------------------------
    def run(self) -> SearchOutcome:
        """Run (or resume) the search to ``n_trials`` finished trials; always writes the reports.

        The run directory is locked for the whole search (:class:`core.search.run_dir.RunLock`). A directory that cannot
        be used as asked (busy, an unreadable store, an earlier search's files, a refused write) raises
        :class:`core.errors.RunDirError` without changing what is stored.
        """
        try:
            self._check_run_dir()  # before the lock file is created: a refused resume leaves the directory as it was
            with RunLock(self.run_dir):
                return self._run_locked()
        except (OSError, sqlite3.OperationalError) as exc:
            error = storage_error(exc, self.run_dir)
            if error is None:
                raise
            raise error from exc

    def _check_run_dir(self) -> None:
        (check_for_resume if bool(self.cfg.search.resume) else check_for_new)(self.run_dir)

    def _run_locked(self) -> SearchOutcome:
        self._check_run_dir()  # again, now that no other search can change it
        store = Store(self.run_dir / STORE_NAME)
        try:
            self._open(store)
        except BaseException:
            store.close()
            raise
        wall_start = time.time()
        try:
            self.logger.start(str(self.run_dir), OmegaConf.to_container(self.cfg, resolve=True))  # type: ignore[arg-type]
            with SearchProgress(self.n_trials, enabled=self.show_progress) as progress:
                progress.update(store.counts(), self._hypervolume(store))
                (self._loop_async if self.asynchronous else self._loop)(store, progress)
        finally:
            try:
                store.set_meta("wall_time_s", float(store.get_meta("wall_time_s", 0.0)) + time.time() - wall_start)
                summary = write_outputs(store, self.run_dir)
            finally:
                store.close()
                self.executor.close()
        self.logger.finish(summary)
        if self.show_progress:
            SearchProgress.print_pareto(self.run_dir, summary)
        return SearchOutcome(summary, self.run_dir)

    def signature(self) -> dict[str, Any]:
        """What a resumed run must share with the stored one for its trials to stay meaningful."""
        return {
            "space": [
                {
                    "name": p.name,
                    "path": p.path,
                    "type": p.type,
                    "low": p.low,
                    "high": p.high,
                    "log": p.log,
                    "choices": list(p.choices),
                }
                for p in self.space.parameters
            ],
            "objectives": list(self.objectives),
            "reference": self.reference,
            "optimizer": OmegaConf.to_container(self.cfg.optimizer, resolve=True),
            "seed": int(self.cfg.seed),
        }

    def _open(self, store: Store) -> None:
        """Start a new run or restore a previous one from the store."""
        problem = Problem(
            dim=self.space.dim,
            objective_names=self.objectives,
            ref_point=tuple(1.0 for _ in self.objectives),
            seed=int(self.cfg.seed),
            known=KnownCosts(self.cfg, self.space, self.objectives, self.reference),
            snap=self.space.snap,
        )
        self.optimizer.setup(problem)
        self._carry: list[TrialResult] = []  # finished trials to tell together with the rest of their batch
        existing = sum(store.counts().values())
        signature = json.loads(json.dumps(self.signature()))
        if existing and not bool(self.cfg.search.resume):
            raise ConfigError(
                "search.resume",
                f"the run directory {self.run_dir} already holds {existing} trials",
                hint="Pass search.resume=true to continue that search, or choose a new hydra.run.dir.",
            )
        if existing:
            stored = store.get_meta("signature") or {}
            changed = sorted(k for k in signature if stored.get(k) != signature[k])
            if changed:
                detail = "; ".join(f"{k}: stored {stored.get(k)!r}, now {signature[k]!r}" for k in changed)
                raise ConfigError(
                    "search.resume",
                    f"the run's {', '.join(changed)} differ from the stored run, so its trials cannot be continued",
                    hint=f"Resume with the original settings or start a new hydra.run.dir. {detail}.",
                )
            state = store.get_meta("optimizer_state")
            if state is not None:
                try:
                    self.optimizer.load_state_dict(state)
                except Exception as exc:  # a plugin may raise anything on a state it cannot read
                    raise RunDirError(
                        store.path,
                        f"holds an optimizer state that {type(self.optimizer).__name__} cannot load "
                        f"({type(exc).__name__}: {exc}), so the search cannot be resumed; nothing was changed",
                        hint="Restore the file from a backup, or start a new search in a new hydra.run.dir.",
                    ) from exc
            untold = set(store.untold_ids())
            self._carry = [r for r in store.results() if r.trial_id in untold]
            if self.asynchronous or not store.results([TrialStatus.PENDING]):  # async: told as they finished
                self._tell(store, self._carry)
                self._carry = []
            log.info("resuming %s: %s", self.run_dir, store.counts())
        else:
            store.set_meta("signature", signature)
            store.set_meta("objectives", list(self.objectives))
            store.set_meta("reference", self.reference)
            store.set_meta("board", self.hw.name)
            store.set_meta("optimizer", str(self.cfg.optimizer.get("_target_")))
            store.set_meta("seed", int(self.cfg.seed))
        store.set_meta("n_trials", self.n_trials)
        store.set_meta("workers", int(self.executor.n_workers))
        store.set_meta("schedule", "async" if self.asynchronous else "batch")

    def _loop(self, store: Store, progress: SearchProgress) -> None:
        while True:
            counts = store.counts()
            finished = sum(counts.values()) - counts[TrialStatus.PENDING.value]
            if finished >= self.n_trials:
                return
            pending = self._give_up_on_crashers(store, store.results([TrialStatus.PENDING]))
            if pending:  # asked before an interruption: evaluate at the stored points, never ask again
                # (with a smaller n_trials on resume, the surplus stays pending for a later, longer resume)
                specs = [self._spec(r.trial_id, np.array(r.x)) for r in pending[: self.n_trials - finished]]
            else:
                n = min(self.batch_size, self.n_trials - finished)
                x = np.clip(np.asarray(self.optimizer.ask(n), dtype=float).reshape(n, self.space.dim), 0.0, 1.0)
                first = store.next_trial_id()
                specs = [self._spec(first + i, x[i]) for i in range(n)]
                store.add_pending(specs, self.optimizer.state_dict())
            results, in_flight = list(self._carry), set[int]()
            started = functools.partial(self._started, store, in_flight)
            try:
                for result in self.executor.map(self.evaluate, specs, on_start=started):
                    store.finish(result)
                    in_flight.discard(result.trial_id)
                    results.append(result)
                    hv = self._hypervolume(store)
                    progress.update(store.counts(), hv, result)
                    self.logger.log_trial(result, hv)
                    if result.status == TrialStatus.FAILED:
                        log.warning("trial %d failed: %s", result.trial_id, result.error)
            except KeyboardInterrupt:
                store.take_back_attempts(in_flight)  # a user's Ctrl-C is not the trial's fault
                raise
            self._carry = []
            self._tell(store, results)

    def _loop_async(self, store: Store, progress: SearchProgress) -> None:
        """Asynchronous search: the executor pulls one spec whenever a worker is free; each pull asks the optimizer
        for one point, told of every result so far and of the points still running (``Optimizer.set_pending``).
        Every result is stored and told as soon as it arrives. Trials left pending by an interruption run first,
        at their stored points. With ``search.lookahead`` the next point is proposed in a background thread while
        the trials run (:mod:`core.search.lookahead`), and results are told at the start of the following proposal."""
        running: dict[int, np.ndarray] = {}  # asked (stored as pending) and not finished: id -> point
        ahead = Lookahead(self.optimizer, self.space.dim) if self.lookahead else None

        def more_needed() -> bool:
            counts = store.counts()
            return sum(counts.values()) - counts[TrialStatus.PENDING.value] + len(running) < self.n_trials

        def pending_points() -> np.ndarray:
            return np.array(list(running.values()), dtype=float).reshape(-1, self.space.dim)

        def propose() -> tuple[np.ndarray, dict[str, Any]]:
            if ahead is None:
                self.optimizer.set_pending(pending_points())
                x = np.clip(np.asarray(self.optimizer.ask(1), dtype=float).reshape(1, self.space.dim), 0.0, 1.0)
                return x[0], self.optimizer.state_dict()
            if not ahead.running:  # the first proposal: nothing was computed ahead
                ahead.start(pending_points())
            proposal = take(ahead)
            return proposal.x, proposal.state

        def take(ahead: Lookahead) -> Proposal:
            """The proposal computed ahead, its tells marked in the store with the state right after them."""
            proposal = ahead.take()
            if proposal.told:
                store.mark_told(proposal.told, proposal.told_state or proposal.state)
            return proposal

        def specs() -> Iterator[TrialSpec]:
            for r in self._give_up_on_crashers(store, store.results([TrialStatus.PENDING])):
                if not more_needed():
                    return  # a smaller n_trials on resume: the surplus stays pending for a later, longer resume
                running[r.trial_id] = np.array(r.x, dtype=float)
                yield self._spec(r.trial_id, np.array(r.x))
            while more_needed():
                x, state = propose()
                spec = self._spec(store.next_trial_id(), x)
                store.add_pending([spec], state)
                running[spec.trial_id] = x
                if ahead is not None and more_needed():  # the next point, while this one runs
                    ahead.start(pending_points())
                yield spec

        in_flight: set[int] = set()
        started = functools.partial(self._started, store, in_flight)
        try:
            for result in self.executor.map(self.evaluate, specs(), on_start=started):
                store.finish(result)
                in_flight.discard(result.trial_id)
                running.pop(result.trial_id, None)
                hv = self._hypervolume(store)
                progress.update(store.counts(), hv, result)
                self.logger.log_trial(result, hv)
                if result.status == TrialStatus.FAILED:
                    log.warning("trial %d failed: %s", result.trial_id, result.error)
                if ahead is None:
                    self._tell(store, [result])
                else:
                    ahead.queue_tell([result.trial_id], *self._observations([result]))
        except KeyboardInterrupt:
            store.take_back_attempts(in_flight)  # a user's Ctrl-C is not the trial's fault
            raise
        if ahead is not None:  # tell what is still queued, so the optimizer ends knowing every result
            if ahead.running:  # only where an executor stopped pulling early: the proposal is not used
                take(ahead)
            told = ahead.drain()
            if told:
                store.mark_told(told, self.optimizer.state_dict())

    @staticmethod
    def _started(store: Store, in_flight: set[int], spec: TrialSpec) -> None:
        store.begin_attempts([spec.trial_id])
        in_flight.add(spec.trial_id)

    def _give_up_on_crashers(self, store: Store, pending: list[TrialResult]) -> list[TrialResult]:
        """Record pending trials whose evaluation was interrupted ``search.max_attempts`` times as failed."""
        limit = int(self.cfg.search.max_attempts)
        keep = []
        for r in pending:
            n = store.attempts(r.trial_id)
            if n >= limit:
                r.status = TrialStatus.FAILED
                r.error = (
                    f"evaluation was interrupted {n} times (the process crashed or was killed); "
                    f"giving up after search.max_attempts={limit}"
                )
                store.finish(r)
                self._carry.append(r)
            else:
                keep.append(r)
        if not keep or self.asynchronous:  # nothing left of that batch (async: never wait): tell it now
            self._tell(store, self._carry)
            self._carry = []
        return keep

    def _spec(self, trial_id: int, x: np.ndarray) -> TrialSpec:
        params = self.space.decode(x)
        trial_cfg = self.space.apply(self.cfg, params)
        container = cast(dict[str, Any], OmegaConf.to_container(trial_cfg, resolve=True))
        return TrialSpec(trial_id, [float(v) for v in x], params, container, str(self.run_dir))

    def _tell(self, store: Store, results: list[TrialResult]) -> None:
        if not results:
            return
        results = sorted(results, key=lambda r: r.trial_id)
        self.optimizer.tell(*self._observations(results))
        store.mark_told([r.trial_id for r in results], self.optimizer.state_dict())

    def _observations(self, results: list[TrialResult]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The optimizer's view of finished trials: points, normalized objectives (NaN: failed), feasibility."""
        x = np.array([r.x for r in results], dtype=float)
        y = np.full((len(results), len(self.objectives)), np.nan)
        feasible = np.zeros(len(results), dtype=bool)
        for i, r in enumerate(results):
            if r.status in (TrialStatus.COMPLETE, TrialStatus.INFEASIBLE):
                y[i] = normalize(r.objectives, self.objectives, self.reference)
                feasible[i] = r.status == TrialStatus.COMPLETE
        return x, y, feasible

    def _hypervolume(self, store: Store) -> float:
        return front_hypervolume(store.results([TrialStatus.COMPLETE]), list(self.objectives), self.reference)
