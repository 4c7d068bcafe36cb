"""A run directory is safe to share, resume and run twice (``core.search.run_dir``): one search at a time, a resume
needs a readable store, nothing of an earlier search is overwritten, and refused writes are one paragraph naming the
path."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.errors import ConfigError, RunDirError
from core.interfaces.trial import TrialStatus
from core.search.loop import Search
from core.search.run_dir import LOCK_NAME, RunLock
from core.search.store import Store
from tests.conftest import FAST, REPO, run_cli, wait_for_finished


def _snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file below ``root`` with its size and bytes: what 'untouched' is checked against."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.read_bytes()) for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def finished(make_cfg, tmp_path_factory) -> Path:
    """A finished 2-trial search (copied by each test that damages or resumes it)."""
    run_dir = tmp_path_factory.mktemp("finished")
    Search(make_cfg(*FAST, "search.n_trials=2"), run_dir).run()
    return run_dir


def _copy(finished: Path, to: Path) -> Path:
    shutil.copytree(finished, to, dirs_exist_ok=True)
    return to


def test_a_held_lock_refuses_a_second_search_naming_the_holder(make_cfg, tmp_path) -> None:
    with RunLock(tmp_path), pytest.raises(RunDirError, match=rf"another search is running.*process {os.getpid()}"):
        Search(make_cfg(*FAST, "search.n_trials=1"), tmp_path).run()
    assert not (tmp_path / "trials.db").exists()  # refused before the store was created
    Search(make_cfg(*FAST, "search.n_trials=1"), tmp_path).run()  # released: the directory is usable again


@pytest.mark.slow
def test_two_searches_on_one_run_dir_the_second_exits_2_and_the_first_keeps_every_trial(tmp_path) -> None:
    run_dir = tmp_path / "run"
    # 20 Sobol' trials (about 1 s each) keep the first search busy well past the second's start-up (a few seconds on
    # a quiet machine); the lock is what is tested, so no surrogate rounds (tens of seconds each) slow it down
    args = [sys.executable, "-m", "core.run", "search.n_trials=20", "search.progress=false", "logger=none",
            "optimizer=sobol", "~search_space.params.epochs", "trainer.max_epochs=2",
            f"hydra.run.dir={run_dir}"]  # fmt: skip
    env = {**os.environ, "WANDB_MODE": "disabled"}
    first = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    db = run_dir / "trials.db"
    wait_for_finished(db, first, 1)
    assert first.poll() is None, "the first search ended before the second could start"
    second = subprocess.run([*args, "search.resume=true"], cwd=REPO, env=env, capture_output=True, text=True)
    assert second.returncode == 2, second.stderr
    assert "another search is running" in second.stderr and f"process {first.pid}" in second.stderr
    assert "Traceback" not in second.stderr
    _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    with Store(db) as store:
        results = store.results()
    assert [r.trial_id for r in results] == list(range(20))
    assert all(r.status != TrialStatus.PENDING for r in results)
    assert len((run_dir / "trials.csv").read_text().strip().splitlines()) == 21  # header + 20 rows


def test_resume_on_an_empty_store_exits_2_and_leaves_the_directory_untouched(tmp_path) -> None:
    run_dir = tmp_path / "run"
    (run_dir / "models" / "0").mkdir(parents=True)
    (run_dir / "models" / "0" / "model.pt").write_bytes(b"an earlier search's model")
    (run_dir / "trials.csv").write_text("trial_id,status\n0,complete\n")
    (run_dir / "trials.db").write_bytes(b"")
    before = _snapshot(run_dir)
    done = run_cli("search.resume=true", "search.n_trials=1", "logger=none", f"hydra.run.dir={run_dir}")
    assert done.returncode == 2, done.stderr
    assert "trials.db" in done.stderr and "is empty" in done.stderr and "Traceback" not in done.stderr
    after = {k: v for k, v in _snapshot(run_dir).items() if not k.startswith(".hydra") and not k.endswith(".log")}
    assert after == before  # Hydra's own .hydra/ and log aside, nothing was added, changed or removed


def test_resume_without_a_store_is_refused(make_cfg, tmp_path) -> None:
    with pytest.raises(RunDirError, match=r"does not exist, so search\.resume=true has nothing to resume"):
        Search(make_cfg(*FAST, "search.n_trials=1", "search.resume=true"), tmp_path / "typo").run()
    assert not (tmp_path / "typo" / "trials.db").exists()


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda db: db.write_bytes(db.read_bytes()[: db.stat().st_size // 2]), "malformed|not a database"),
        (lambda db: db.write_bytes(b"not sqlite at all " * 64), "not a database"),
        (
            lambda db: _sql(db, "UPDATE meta SET value='{\"x\": [1,' WHERE key='optimizer_state'"),
            "unreadable metadata 'optimizer_state'",
        ),
        (
            lambda db: _sql(db, "UPDATE meta SET value='{\"format\": \"something else\"}' WHERE key='optimizer_state'"),
            "optimizer state that .* cannot load",
        ),
    ],
    ids=["truncated", "garbage", "state-not-json", "state-unloadable"],
)
def test_a_damaged_store_is_refused_on_resume_and_left_as_it_is(make_cfg, finished, tmp_path, damage, message) -> None:
    _copy(finished, tmp_path)
    damage(tmp_path / "trials.db")
    before = _snapshot(tmp_path)
    with pytest.raises(RunDirError, match=message) as info:
        Search(make_cfg(*FAST, "search.n_trials=3", "search.resume=true"), tmp_path).run()
    assert "trials.db" in str(info.value) and "\n" not in str(info.value)
    after = {k: v for k, v in _snapshot(tmp_path).items() if k != LOCK_NAME}
    assert after == {k: v for k, v in before.items() if k != LOCK_NAME}


def _sql(db: Path, statement: str) -> None:
    with sqlite3.connect(db) as con:
        con.execute(statement)
    con.close()


@pytest.mark.parametrize("leftover", ["trials.csv", "summary.json", "models", "trials.db"])
def test_a_new_search_never_overwrites_an_earlier_searchs_files(make_cfg, tmp_path, leftover) -> None:
    path = tmp_path / leftover
    if leftover == "models":
        path.mkdir()
    else:
        path.write_bytes(b"")  # for trials.db: an empty store (a crash, a failed copy)
    with pytest.raises(RunDirError, match="earlier search"):
        Search(make_cfg(*FAST, "search.n_trials=1"), tmp_path).run()
    assert sorted(p.name for p in tmp_path.iterdir()) == [leftover]


def test_a_finished_search_still_needs_resume_to_continue(make_cfg, finished, tmp_path) -> None:
    _copy(finished, tmp_path)
    with pytest.raises(ConfigError, match=r"search\.resume"):
        Search(make_cfg(*FAST, "search.n_trials=3"), tmp_path).run()
    outcome = Search(make_cfg(*FAST, "search.n_trials=3", "search.resume=true"), tmp_path).run()
    assert outcome.summary["counts"]["total"] == 3


def test_a_full_disk_is_one_paragraph_naming_the_path_and_the_stored_trials_survive(finished, tmp_path) -> None:
    """A real refused write: the resumed search runs under a file-size limit (RLIMIT_FSIZE), as on a full disk."""
    _copy(finished, tmp_path)
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        from hydra import compose, initialize_config_module
        from core.errors import RunDirError
        from core.search.loop import Search
        with initialize_config_module(config_module="conf", version_base="1.3"):
            cfg = compose(config_name="config", overrides={[*FAST, "search.n_trials=4", "search.resume=true"]!r})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))
        try:
            Search(cfg, {str(tmp_path)!r}).run()
        except RunDirError as exc:
            print(exc)
            sys.exit(2)
        """
    )
    env = {**os.environ, "WANDB_MODE": "disabled"}
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 2, done.stdout + done.stderr
    message = done.stdout.strip()
    assert "\n" not in message and str(tmp_path) in message and "cannot be written" in message
    with Store(tmp_path / "trials.db") as store:
        assert sum(r.status != TrialStatus.PENDING for r in store.results()) == 2


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes to read-only directories anyway")
def test_a_read_only_run_dir_is_one_paragraph_naming_the_path(make_cfg, finished, tmp_path) -> None:
    _copy(finished, tmp_path)
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(RunDirError, match="cannot be written") as info:
            Search(make_cfg(*FAST, "search.n_trials=4", "search.resume=true"), tmp_path).run()
        assert str(tmp_path) in str(info.value)
    finally:
        tmp_path.chmod(0o755)
    with Store(tmp_path / "trials.db") as store:
        assert len(store.results()) == 2
