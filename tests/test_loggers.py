"""Search loggers: ``csv`` (per-trial curves), ``none`` (nothing), ``wandb`` (one offline run per search).

The wandb tests read back what wandb wrote: an offline run is a LevelDB-style log of protobuf ``Record``s
(``<dir>/wandb/offline-run-*/run-*.wandb``); wandb 0.30 no longer ships a Python reader for it (that moved to
the Go ``wandb-core``), so :func:`read_wandb` below parses the log format and decodes the records with
``wandb.proto.wandb_internal_pb2.Record``. Tables and images are files under the run's ``files/`` folder, named
by the history record.
"""

from __future__ import annotations

import csv
import json
import logging
import struct
from pathlib import Path
from typing import Any

import pytest

from core.errors import ConfigError
from core.interfaces.trial import TrialResult, TrialStatus
from core.plugins import instantiate
from tests.conftest import run_cli

wandb = pytest.importorskip("wandb")
from plugins.loggers.wandb_logger import WandbLogger  # noqa: E402

FAST = ("trainer.max_epochs=1", "search.progress=false", "~search_space.params.epochs")
PNG = b"\x89PNG\r\n\x1a\n"


# --- reading an offline wandb run back --------------------------------------------------------------------
def _raw_records(path: Path) -> list[bytes]:
    """The records of a wandb transaction log (LevelDB log format, 32 KiB blocks, 7-byte W&B file header)."""
    data = path.read_bytes()
    ident, magic, _version = struct.unpack("<4sHB", data[:7])
    assert (ident, magic) == (b":W&B", 0xBEE1), "not a wandb transaction log"
    block, header = 32768, 7
    pos, out, partial = 7, [], b""
    while pos + header <= len(data):
        left = block - pos % block
        if left < header:  # block trailer: zero padding
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + header])
        if kind == 0 and length == 0:  # zero-filled rest of a block
            pos += left
            continue
        chunk = data[pos + header : pos + header + length]
        pos += header + length
        if kind == 1:  # FULL
            out.append(chunk)
        elif kind == 2:  # FIRST
            partial = chunk
        elif kind == 3:  # MIDDLE
            partial += chunk
        elif kind == 4:  # LAST
            out.append(partial + chunk)
            partial = b""
    return out


def _items(items: Any) -> dict[str, Any]:
    return {(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in items}


def read_wandb(wandb_dir: Path) -> dict[str, Any]:
    """The one offline run under ``wandb_dir``: its folder, config, history rows (by step) and final summary."""
    from wandb.proto.wandb_internal_pb2 import Record

    runs = sorted(wandb_dir.glob("offline-run-*"))
    assert len(runs) == 1, runs
    (log_file,) = runs[0].glob("run-*.wandb")
    out: dict[str, Any] = {"dir": runs[0], "config": {}, "history": {}, "summary": {}}
    for raw in _raw_records(log_file):
        record = Record()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            out["config"].update(_items(record.run.config.update))
        elif kind == "config":  # wandb >= 0.30 may write the config after the run record, as config updates
            out["config"].update(_items(record.config.update))
        elif kind == "history":
            row = _items(record.history.item)
            out["history"].setdefault(row["_step"], {}).update(row)
        elif kind == "summary":
            out["summary"].update(_items(record.summary.update))
    return out


def read_table(run: dict[str, Any], ref: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of a logged ``wandb.Table`` (``ref``: its history entry), as dicts."""
    assert ref["_type"] == "table-file"
    table = json.loads((run["dir"] / "files" / ref["path"]).read_text())
    return [dict(zip(table["columns"], row, strict=True)) for row in table["data"]]


def _row_value(row: dict[str, Any], key: str) -> Any:
    """A history value; wandb writes a media entry either whole or split into ``key/<field>`` items."""
    if key in row:
        return row[key]
    nested = {k[len(key) + 1 :]: v for k, v in row.items() if k.startswith(key + "/")}
    return nested or None


# --- fixtures --------------------------------------------------------------------------------------------
@pytest.fixture
def wandb_env(tmp_path, monkeypatch) -> dict[str, str]:
    """Offline, silent wandb whose every file (settings, cache, artifacts) stays under ``tmp_path``."""
    env = {
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "WANDB_DIR": str(tmp_path / "wandb_home"),
        "WANDB_CONFIG_DIR": str(tmp_path / "wandb_home" / "config"),
        "WANDB_CACHE_DIR": str(tmp_path / "wandb_home" / "cache"),
        "WANDB_DATA_DIR": str(tmp_path / "wandb_home" / "data"),
        "WANDB_ARTIFACT_DIR": str(tmp_path / "wandb_home" / "artifacts"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def _result(tid: int, status: TrialStatus, error: float | None = None, msg: str | None = None) -> TrialResult:
    objectives = {} if error is None else {"error": error, "flash": 1000.0 + tid, "ram": 500.0, "macs": 1e5}
    return TrialResult(
        trial_id=tid,
        x=[0.5, 0.5],
        params={"model.width": 8 + tid, "model.act": "relu"},
        status=status,
        objectives=objectives,
        metrics={"val_accuracy": 1.0 - error} if error is not None else {},
        error=msg,
        duration_s=1.5 + tid,
    )


def _fake_run_dir(run_dir: Path) -> None:
    """What core.report and the trials would have written: pareto/trials CSVs, plots, one trial's curves."""
    run_dir.mkdir(parents=True, exist_ok=True)
    header = "trial_id,status,pareto,model.act,model.width,error,flash,ram,macs,latency,duration_s,message\n"
    (run_dir / "pareto.csv").write_text(header + "2,complete,True,relu,10,0.1,1002,500,100000,,3.5,\n")
    (run_dir / "trials.csv").write_text(
        header + "0,failed,False,relu,8,,,,,,1.5,boom\n"
        "2,complete,True,relu,10,0.1,1002,500,100000,,3.5,\n"
        "1,complete,False,relu,9,0.4,1001,500,100000,,2.5,\n"
    )
    (run_dir / "pareto.png").write_bytes(PNG + b"fake")
    (run_dir / "hypervolume.png").write_bytes(PNG + b"fake")
    # Lightning's CSVLogger rows: train and val metrics of an epoch land on separate rows
    curves = run_dir / "logs" / "trial_2"
    curves.mkdir(parents=True)
    (curves / "metrics.csv").write_text(
        "epoch,step,train_loss,val_acc,val_loss\n0,9,,0.5,1.2\n0,9,1.5,,\n1,19,,0.75,0.8\n1,19,1.0,,\n"
    )


# --- wandb -----------------------------------------------------------------------------------------------
def test_wandb_logs_trials_pareto_plots_and_summary(wandb_env, tmp_path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = tmp_path / "run"
    _fake_run_dir(run_dir)
    plt.plot([0, 1], [0, 1])
    plt.savefig(run_dir / "pareto.png")  # a real PNG: wandb.Image decodes it
    plt.savefig(run_dir / "hypervolume.png")
    plt.close("all")

    logger = WandbLogger(name="unit", group="g", tags=["t1"])
    logger.start(str(run_dir), {"seed": 7, "search": {"n_trials": 3}})
    lightning = logger.trial_logger(2, str(run_dir))
    assert Path(lightning.log_dir) == run_dir / "logs" / "trial_2"  # the same files as logger=csv
    # trials finish out of order; the step counts finished trials
    logger.log_trial(_result(2, TrialStatus.COMPLETE, error=0.1), 0.5)
    logger.log_trial(_result(0, TrialStatus.FAILED, msg="RuntimeError: boom"), 0.5)
    logger.log_trial(_result(1, TrialStatus.COMPLETE, error=0.4), 0.6)
    summary = {"hypervolume": 0.6, "counts": {"complete": 2, "failed": 1}, "hypervolume_history": [0, 0.5, 0.6]}
    logger.finish(summary)

    run = read_wandb(run_dir / "wandb")
    assert run["config"]["seed"] == 7 and run["config"]["search"] == {"n_trials": 3}
    hist = run["history"]
    assert sorted(hist) == [1, 2, 3]
    assert [hist[s]["trial/id"] for s in (1, 2, 3)] == [2, 0, 1]
    assert [hist[s]["search/hypervolume"] for s in (1, 2, 3)] == [0.5, 0.5, 0.6]
    assert [hist[s]["trial/status"] for s in (1, 2, 3)] == ["complete", "failed", "complete"]
    assert hist[1]["objectives/error"] == 0.1 and hist[3]["objectives/error"] == 0.4
    assert hist[1]["objectives/flash"] == 1002 and hist[1]["params/model.width"] == 10
    assert hist[1]["params/model.act"] == "relu" and hist[1]["trial/duration_s"] == 3.5
    assert hist[2]["trial/error"] == "RuntimeError: boom" and "objectives/error" not in hist[2]
    assert (hist[3]["search/complete"], hist[3]["search/failed"]) == (2, 1)

    # trial 2's curves, one row per epoch, train and val rows merged
    curves = read_table(run, _row_value(hist[1], "curves/trial_2"))
    assert curves == [
        {"epoch": 0, "train_loss": 1.5, "val_acc": 0.5, "val_loss": 1.2},
        {"epoch": 1, "train_loss": 1.0, "val_acc": 0.75, "val_loss": 0.8},
    ]
    assert _row_value(hist[2], "curves/trial_0") is None  # no metrics.csv, no curves

    final = hist[3]  # the final results are logged at the last step
    pareto = read_table(run, _row_value(final, "pareto/front"))
    assert len(pareto) == 1 and pareto[0]["trial_id"] == 2 and pareto[0]["error"] == 0.1
    assert pareto[0]["pareto"] is True and pareto[0]["latency"] is None
    trials = read_table(run, _row_value(final, "trials/all"))
    assert {r["trial_id"]: r["message"] for r in trials}[0] == "boom"
    for key in ("plots/pareto", "plots/hypervolume"):
        image = _row_value(final, key)
        assert image["_type"] == "image-file"
        assert (run["dir"] / "files" / image["path"]).read_bytes()[:8] == PNG
    assert read_table(run, _row_value(final, "curves/all"))[1]["val_acc"] == 0.75
    # the overlaid line chart: a custom chart whose data wandb logs as ``curves/val_acc_table``
    chart = read_table(run, _row_value(final, "curves/val_acc_table"))
    assert [(r["lineKey"], r["step"], r["lineVal"]) for r in chart] == [("trial 2", 0, 0.5), ("trial 2", 1, 0.75)]

    assert run["summary"]["hypervolume"] == 0.6 and run["summary"]["counts/failed"] == 1
    assert run["summary"]["search/hypervolume"] == 0.6
    assert "hypervolume_history" not in run["summary"]


def test_wandb_failure_never_stops_the_search(wandb_env, tmp_path, monkeypatch, caplog) -> None:
    def broken_init(**kwargs: Any) -> Any:
        raise RuntimeError("no network")

    monkeypatch.setattr(wandb, "init", broken_init)
    run_dir = tmp_path / "run"
    _fake_run_dir(run_dir)
    logger = WandbLogger()
    with caplog.at_level(logging.WARNING, logger="plugins.loggers.wandb_logger"):
        logger.start(str(run_dir), {"seed": 0})
        logger.log_trial(_result(0, TrialStatus.COMPLETE, error=0.2), 0.3)
        logger.finish({"hypervolume": 0.3})
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "no network" in warnings[0] and "search goes on" in warnings[0]
    # a failing log call after a good start is skipped too
    monkeypatch.undo()
    for k, v in wandb_env.items():
        monkeypatch.setenv(k, v)
    caplog.clear()
    logger = WandbLogger()
    with caplog.at_level(logging.WARNING, logger="plugins.loggers.wandb_logger"):
        logger.start(str(tmp_path / "run2"), {})
        monkeypatch.setattr(logger._run, "log", broken_init)
        logger.log_trial(_result(0, TrialStatus.COMPLETE, error=0.2), 0.3)
        logger.log_trial(_result(1, TrialStatus.COMPLETE, error=0.1), 0.4)
        logger.finish({"hypervolume": 0.4})
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "logging trial 0" in warnings[0]
    assert logger._run is None  # finished all the same
    assert len(list((tmp_path / "run2").glob("wandb/offline-run-*/run-*.wandb"))) == 1


def test_wandb_mode_env_var_wins(wandb_env, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "disabled")
    logger = WandbLogger(mode="offline")
    logger.start(str(tmp_path / "run"), {"seed": 0})
    logger.log_trial(_result(0, TrialStatus.COMPLETE, error=0.2), 0.3)
    logger.finish({"hypervolume": 0.3})
    assert not list((tmp_path / "run").glob("wandb/offline-run-*"))


def test_wandb_config_and_errors(make_cfg) -> None:
    cfg = make_cfg("logger=wandb")
    assert cfg.logger.mode == "offline" and cfg.logger.project == "tinymoo" and cfg.logger.log_curves is True
    logger = instantiate(cfg.logger, "logger")
    assert isinstance(logger, WandbLogger) and logger.name is None and logger.tags == []
    with pytest.raises(ConfigError, match=r"Config key 'logger\.mode': unknown mode 'cloud'"):  # the key, unwrapped
        instantiate(make_cfg("logger=wandb", "logger.mode=cloud").logger, "logger")


@pytest.mark.slow
def test_wandb_end_to_end_from_cli(wandb_env, tmp_path) -> None:
    run_dir = tmp_path / "run"
    proc = run_cli("logger=wandb", "search.n_trials=3", "trainer.max_epochs=1", f"hydra.run.dir={run_dir}", **wandb_env)
    assert proc.returncode == 0, proc.stderr
    assert "Pareto front on stm32f4" in proc.stdout
    run = read_wandb(run_dir / "wandb")
    hist = run["history"]
    assert sorted(hist) == [1, 2, 3]
    assert sorted(hist[s]["trial/id"] for s in hist) == [0, 1, 2]
    rows = {int(r["trial_id"]): r for r in csv.DictReader((run_dir / "trials.csv").open())}
    for row in hist.values():
        stored = rows[row["trial/id"]]
        assert row["trial/status"] == stored["status"]
        if stored["status"] == "complete":
            assert row["objectives/error"] == pytest.approx(float(stored["error"]))
            # trained trials bring their Lightning curves (max_epochs=1: one epoch)
            curves = read_table(run, _row_value(row, "curves/trial_" + str(row["trial/id"])))
            assert curves[0]["epoch"] == 0 and curves[0]["val_acc"] is not None
    assert hist[3]["search/hypervolume"] == pytest.approx(
        json.loads((run_dir / "summary.json").read_text())["hypervolume"]
    )
    assert len(read_table(run, _row_value(hist[3], "pareto/front"))) == run["summary"]["pareto_size"] >= 1
    assert run["config"]["search"]["n_trials"] == 3 and run["config"]["logger"]["mode"] == "offline"


# --- csv and none ----------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("logger", ["csv", "none"])
def test_csv_writes_curves_per_trial_and_none_writes_nothing(make_cfg, tmp_path, logger) -> None:
    from core.search.loop import Search

    cfg = make_cfg(*FAST, "search.n_trials=2", f"logger={logger}", "search.train_infeasible=true")
    Search(cfg, tmp_path).run()
    if logger == "none":
        assert not (tmp_path / "logs").exists()
        return
    for tid in (0, 1):
        rows = list(csv.DictReader((tmp_path / "logs" / f"trial_{tid}" / "metrics.csv").open()))
        assert {"epoch", "train_loss", "val_loss", "val_acc"} <= set(rows[0])
        assert any(r["val_acc"] for r in rows) and any(r["train_loss"] for r in rows)
