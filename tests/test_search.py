"""The search loop on real trials: counts, store, reports, failing trials, and exact resume after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from omegaconf import open_dict

from core.errors import ConfigError
from core.interfaces.trial import TrialStatus
from core.search.checks import check_trainer
from core.search.loop import Search
from core.search.store import Store
from core.trial.evaluate import evaluate_trial
from tests.conftest import REPO, wait_for_finished

FAST = ("trainer.max_epochs=1", "search.progress=false", "logger=none")


def _xs(run_dir) -> list[list[float]]:
    with Store(run_dir / "trials.db") as s:
        return [r.x for r in s.results()]


def test_search_runs_and_writes_reports(make_cfg, tmp_path) -> None:
    cfg = make_cfg(*FAST, "search.n_trials=3", "~search_space.params.epochs")
    outcome = Search(cfg, tmp_path).run()
    s = outcome.summary
    assert s["counts"]["total"] == 3 and s["counts"]["pending"] == 0
    assert 0 < s["hypervolume"] <= 1 and len(s["hypervolume_history"]) == 3
    assert s["reference_point"] == {"error": 1.0, "flash": 442368.0, "ram": 114688.0, "macs": 12000000.0}
    assert 1 <= s["pareto_size"] <= 3
    for name in ("trials.csv", "pareto.csv", "summary.json", "pareto.png", "hypervolume.png", "trials.db"):
        assert (tmp_path / name).is_file(), name


def _with_even_kernels(make_cfg, *extra: str):
    """6 fast trials in a space where kernel size 4, which small_cnn rejects, can be drawn."""
    return make_cfg(
        *FAST, "search.n_trials=6", "+search_space.params.kernel.choices=[3,4]", "~search_space.params.epochs", *extra
    )


def test_failing_trials_are_recorded_and_search_goes_on(make_cfg, tmp_path) -> None:
    # a cost-blind design (the costed one never picks an architecture that cannot be built: see the next test)
    cfg = _with_even_kernels(make_cfg, "optimizer.init_design=lhs")
    outcome = Search(cfg, tmp_path).run()
    counts = outcome.summary["counts"]
    with Store(tmp_path / "trials.db") as store:
        failed = store.results([TrialStatus.FAILED])
    assert counts["total"] == 6 and counts["failed"] == len(failed) >= 1
    assert counts["complete"] >= 1
    assert all(r.params["model.kernel_size"] == 4 and "kernel_size must be odd" in r.error for r in failed)
    assert "kernel_size must be odd" in (tmp_path / "trials.csv").read_text()


def test_known_costs_steer_mobo_ars_away_from_architectures_that_cannot_be_built(make_cfg, tmp_path) -> None:
    """kernel_size 4 makes small_cnn raise: the known costs call it infinitely over the board, so neither the
    costed design nor the agents propose it, and the search runs on."""
    cfg = _with_even_kernels(make_cfg, "optimizer.n_init=4")
    outcome = Search(cfg, tmp_path).run()
    with Store(tmp_path / "trials.db") as store:
        results = store.results()
    assert outcome.summary["counts"]["total"] == 6 and outcome.summary["counts"]["failed"] == 0
    assert {r.params["model.kernel_size"] for r in results} == {3}


class _Kill(BaseException):
    """Stands in for SIGKILL/KeyboardInterrupt in the middle of a trial."""


def test_resume_after_interrupt_loses_and_repeats_nothing(make_cfg, tmp_path) -> None:
    overrides = (*FAST, "search.n_trials=5", "~search_space.params.epochs")
    full = tmp_path / "full"
    Search(make_cfg(*overrides), full).run()

    calls = []

    def dying(spec):
        if len(calls) == 3:
            raise _Kill
        calls.append(spec.trial_id)
        return evaluate_trial(spec)

    part = tmp_path / "part"
    with pytest.raises(_Kill):
        Search(make_cfg(*overrides), part, evaluate=dying).run()
    with Store(part / "trials.db") as s:
        assert s.counts()["complete"] + s.counts()["infeasible"] == 3 and s.counts()["pending"] == 1

    with pytest.raises(ConfigError, match=r"search\.resume"):
        Search(make_cfg(*overrides), part).run()  # refuses to overwrite without resume

    resumed = []

    def counting(spec):
        resumed.append(spec.trial_id)
        return evaluate_trial(spec)

    outcome = Search(make_cfg(*overrides, "search.resume=true"), part, evaluate=counting).run()
    assert resumed == [3, 4]  # the interrupted trial re-runs at its stored point, then one new one
    assert outcome.summary["counts"]["total"] == 5
    assert _xs(part) == _xs(full)  # the same points as an uninterrupted run: nothing lost or repeated


def test_resume_refuses_a_different_space(make_cfg, tmp_path) -> None:
    Search(make_cfg(*FAST, "search.n_trials=1", "~search_space.params.epochs"), tmp_path).run()
    with pytest.raises(ConfigError, match="the run's space differ"):
        Search(make_cfg(*FAST, "search.n_trials=2", "search.resume=true"), tmp_path).run()


@pytest.mark.slow
def test_sigkill_then_resume_from_cli(tmp_path) -> None:
    run_dir = tmp_path / "run"
    args = [sys.executable, "-m", "core.run", "search.n_trials=6", "search.progress=false", "logger=none",
            "~search_space.params.epochs", "trainer.max_epochs=2", f"hydra.run.dir={run_dir}"]  # fmt: skip
    env = {**os.environ, "WANDB_MODE": "disabled"}
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = run_dir / "trials.db"
    wait_for_finished(db, proc, 2)
    assert proc.poll() is None, "search ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with Store(db) as s:
        before = {r.trial_id: (r.x, r.objectives) for r in s.results() if r.status != TrialStatus.PENDING}
    assert 2 <= len(before) < 6

    done = subprocess.run([*args, "search.resume=true"], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with Store(db) as s:
        after = s.results()
    assert [r.trial_id for r in after] == list(range(6))
    assert all(r.status != TrialStatus.PENDING for r in after)
    for r in after:  # completed trials were kept as they were, not re-run
        if r.trial_id in before:
            assert (r.x, r.objectives) == before[r.trial_id]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["counts"]["total"] == 6


def test_trial_that_keeps_killing_the_process_is_given_up(make_cfg, tmp_path) -> None:
    overrides = (*FAST, "search.n_trials=3", "~search_space.params.epochs")

    def crash_on_1(spec):
        if spec.trial_id == 1:
            raise _Kill  # e.g. a segfault or OOM kill inside the trial
        return evaluate_trial(spec)

    with pytest.raises(_Kill):
        Search(make_cfg(*overrides), tmp_path, evaluate=crash_on_1).run()
    with pytest.raises(_Kill):  # the first resume retries it (the kill may have been unrelated) ...
        Search(make_cfg(*overrides, "search.resume=true"), tmp_path, evaluate=crash_on_1).run()
    # ... the second gives up on it, records it and goes on
    outcome = Search(make_cfg(*overrides, "search.resume=true"), tmp_path, evaluate=crash_on_1).run()
    assert outcome.summary["counts"]["total"] == 3 and outcome.summary["counts"]["failed"] == 1
    with Store(tmp_path / "trials.db") as s:
        failed = s.results([TrialStatus.FAILED])
    assert [r.trial_id for r in failed] == [1] and "interrupted 2 times" in failed[0].error


class _Recording:
    """Wraps a real optimizer and records every told point (to prove each trial is told exactly once)."""

    def __init__(self, inner, log: list) -> None:
        self.inner, self.log = inner, log

    def setup(self, problem) -> None:
        self.inner.setup(problem)

    def ask(self, n: int):
        return self.inner.ask(n)

    def tell(self, x, y, feasible) -> None:
        self.log.append([list(map(float, row)) for row in x])
        self.inner.tell(x, y, feasible)

    def state_dict(self):
        return self.inner.state_dict()

    def load_state_dict(self, state) -> None:
        self.inner.load_state_dict(state)


def _search(cfg, run_dir, told: list, evaluate=evaluate_trial) -> Search:
    s = Search(cfg, run_dir, evaluate=evaluate)
    s.optimizer = _Recording(s.optimizer, told)
    return s


def test_batched_resume_tells_every_trial_exactly_once_in_batches(make_cfg, tmp_path) -> None:
    overrides = (*FAST, "search.n_trials=7", "search.batch_size=3", "~search_space.params.epochs")
    full_told: list = []
    _search(make_cfg(*overrides), tmp_path / "full", full_told).run()
    assert [len(b) for b in full_told] == [3, 3, 1]  # asked and told in batches; n_trials respected

    def dies_in_trial_4(spec):
        if spec.trial_id == 4:
            raise _Kill
        return evaluate_trial(spec)

    told: list = []
    part = tmp_path / "part"
    with pytest.raises(_Kill):
        _search(make_cfg(*overrides), part, told, dies_in_trial_4).run()
    assert [len(b) for b in told] == [3]  # batch 2 was cut: trial 3 finished, 4 and 5 are pending
    _search(make_cfg(*overrides, "search.resume=true"), part, told).run()
    assert [len(b) for b in told] == [3, 3, 1]  # trial 3 is told with the rest of its batch, not alone
    flat = [tuple(x) for batch in told for x in batch]
    assert sorted(flat) == sorted({tuple(x) for x in _xs(part)}) and len(flat) == 7  # each exactly once
    assert _xs(part) == _xs(tmp_path / "full")


def test_only_the_trial_that_crashes_counts_an_attempt(make_cfg, tmp_path) -> None:
    overrides = (*FAST, "search.n_trials=3", "search.batch_size=3", "~search_space.params.epochs")

    def crash_on_0(spec):
        if spec.trial_id == 0:
            raise _Kill
        return evaluate_trial(spec)

    for resume in ("false", "true"):
        with pytest.raises(_Kill):
            Search(make_cfg(*overrides, f"search.resume={resume}"), tmp_path, evaluate=crash_on_0).run()
    outcome = Search(make_cfg(*overrides, "search.resume=true"), tmp_path, evaluate=crash_on_0).run()
    with Store(tmp_path / "trials.db") as s:
        status = {r.trial_id: r.status for r in s.results()}
    assert status[0] == TrialStatus.FAILED  # crashed twice: given up
    assert status[1] != TrialStatus.FAILED and status[2] != TrialStatus.FAILED  # never ran before: evaluated
    assert outcome.summary["counts"]["total"] == 3


def test_ctrl_c_is_not_counted_as_a_crash(make_cfg, tmp_path) -> None:
    overrides = (*FAST, "search.n_trials=1", "~search_space.params.epochs")

    def interrupted(spec):
        raise KeyboardInterrupt

    for resume in ("false", "true", "true"):
        with pytest.raises(KeyboardInterrupt):
            Search(make_cfg(*overrides, f"search.resume={resume}"), tmp_path, evaluate=interrupted).run()
    with Store(tmp_path / "trials.db") as s:
        assert s.attempts(0) == 0 and s.counts()["pending"] == 1
    outcome = Search(make_cfg(*overrides, "search.resume=true"), tmp_path).run()
    assert outcome.summary["counts"]["failed"] == 0 and outcome.summary["counts"]["total"] == 1


@pytest.mark.parametrize(
    ("change", "what"),
    [
        ("search_space.params.width.high=64", "space"),
        ("optimizer=random", "optimizer"),
        ("seed=5", "seed"),
        ("search.reference.flash=100000", "reference"),
        ("search.objectives=[error,flash]", "objectives"),
    ],
)
def test_resume_refuses_changed_settings(make_cfg, tmp_path, change, what) -> None:
    Search(make_cfg(*FAST, "search.n_trials=1"), tmp_path).run()
    with pytest.raises(ConfigError, match=rf"the run's .*{what}.* differ from the stored run"):
        Search(make_cfg(*FAST, "search.n_trials=2", "search.resume=true", change), tmp_path).run()


@pytest.mark.parametrize(
    ("override", "key"),
    [("search.batch_size=-1", "search.batch_size"), ("search.max_attempts=0", "search.max_attempts")],
)
def test_preflight_rejects_bad_search_keys(make_cfg, tmp_path, override, key) -> None:
    with pytest.raises(ConfigError, match=rf"Config key '{key}'"):
        Search(make_cfg(*FAST, override), tmp_path)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("logger", False, "Config key 'trainer.logger': is set by tinymoo for every trial"),
        ("max_epoch", 3, "Config key 'trainer.max_epoch': is not an argument of pytorch_lightning.Trainer"),
        ("lr", 0.1, "the learning rate and weight decay are optim.lr and optim.weight_decay"),
    ],
)
def test_the_trainer_config_holds_only_trainer_arguments(make_cfg, key, value, message) -> None:
    """``trainer`` goes to ``pytorch_lightning.Trainer`` as a whole: a key it does not take, or one every trial sets
    itself, is one paragraph naming the key."""
    cfg = make_cfg()
    with open_dict(cfg.trainer):
        cfg.trainer[key] = value
    with pytest.raises(ConfigError, match=message) as err:
        check_trainer(cfg)
    assert "\n" not in str(err.value)


def test_any_trainer_argument_can_be_added_from_the_command_line(make_cfg) -> None:
    """``trainer`` is instantiated as a whole: ``+trainer.<argument>`` passes the command-line check and reaches the
    Trainer of every trial, without a code change."""
    from core.search.overrides import check_keys
    from core.trial.training import trial_trainer

    overrides = ["+trainer.accumulate_grad_batches=3", "+trainer.max_steps=50"]
    assert check_keys(overrides) is None
    cfg = make_cfg(*overrides)
    check_trainer(cfg)
    trainer = trial_trainer(cfg.trainer, [], False)
    assert trainer.accumulate_grad_batches == 3 and trainer.max_steps == 50
