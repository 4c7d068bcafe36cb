"""``logger=wandb``: track a search in Weights & Biases, one wandb run per search.

What goes into the run (``mode: offline`` by default, so nothing leaves the machine until ``wandb sync``):

* **config**: the resolved run config (``start``).
* **one history row per finished trial** (``log_trial``), at ``step`` = the number of trials this search has
  finished so far (1, 2, ...; trials may finish out of order, the step never goes back):

  - ``search/hypervolume``: the hypervolume of the feasible trials so far (normalized objectives);
  - ``search/complete``, ``search/infeasible``, ``search/failed``: running counts;
  - ``trial/id``, ``trial/status`` (``complete`` / ``infeasible`` / ``failed``), ``trial/duration_s``, and
    ``trial/error`` (the failure message of a failed trial, or why an infeasible one does not fit);
  - ``objectives/<name>`` (``error``, ``flash``, ``ram``, ``macs``, ``latency``), ``params/<dotted.path>``
    (the decoded search-space values) and ``metrics/<name>`` (float accuracy, parameter counts, ...);
  - ``curves/trial_<id>``: the trial's Lightning training curves as a ``wandb.Table`` (columns ``epoch`` and
    every logged metric, e.g. ``train_loss``, ``val_loss``, ``val_acc``; one row per epoch).

* **at the end** (``finish``, logged at the last trial's step):

  - ``curves/<metric>`` (e.g. ``curves/val_acc``): one line chart per training metric, epoch on the x axis,
    one line per trial (``wandb.plot.line_series``; wandb stores its data as the table
    ``curves/<metric>_table``), and ``curves/all``, all curves as one long table (``trial_id``, ``epoch``,
    metrics) for custom charts;
  - ``pareto/front`` (``pareto.csv``) and ``trials/all`` (``trials.csv``, failures with their messages) as
    tables, ``plots/pareto`` and ``plots/hypervolume`` (``pareto.png``, ``hypervolume.png``) as images;
  - ``run.summary``: the numbers of ``summary.json`` (hypervolume, counts, Pareto size, wall time, ...).

**Training curves and other processes.** Trials may run in worker processes or on other machines, and a wandb
run object cannot be shared with them. :meth:`WandbLogger.trial_logger` therefore returns the same Lightning
``CSVLogger`` as ``logger=csv`` (``<run_dir>/<subdir>/trial_<id>/metrics.csv``); :meth:`WandbLogger.log_trial`,
which runs in the search's own process after the trial is stored, reads that file and logs the curves into the
search's run. When the file is not there (a trial that failed before training, or a remote worker without a
shared run directory), the trial is logged without curves.

**Mode.** ``mode`` (``offline``, ``online`` or ``disabled``) is what the run uses unless the environment variable
``WANDB_MODE`` is set, which then wins (so ``WANDB_MODE=disabled`` turns tracking off for any config, as
wandb's own integrations behave). An offline run lives in ``<run_dir>/wandb/offline-run-*``; upload it with
``wandb sync <run_dir>/wandb/offline-run-*``.

**Never fatal.** Tracking must not cost the search its results: if wandb fails (``wandb.init`` cannot log in
or reach the server, a value cannot be logged, ...), one warning is logged, the failing call is skipped, and the
search carries on. Only a missing ``wandb`` package is an error, raised when the logger is built.

**Resume.** A resumed search (``search.resume=true``) starts a new wandb run; its steps count the trials
finished in that session. Give the runs the same ``group`` to see them together.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from pathlib import Path
from typing import Any

from pytorch_lightning.loggers import CSVLogger, Logger

from core.api import ConfigError, SearchLogger, TrialResult, TrialStatus

log = logging.getLogger(__name__)

MODES = ("offline", "online", "disabled")


class WandbLogger(SearchLogger):
    """One Weights & Biases run per search (see the module docstring for what is logged and where).

    Args:
        project: the wandb project.
        entity: the wandb user or team; None = wandb's default entity.
        name: the run's display name; None = the run directory's name.
        group: a group for related runs (seeds of a sweep, sessions of a resumed search); None = no group.
        tags: tags for the run.
        mode: ``offline`` (default), ``online`` or ``disabled``; the ``WANDB_MODE`` environment variable wins.
        log_curves: log each trial's Lightning training curves into the run.
        subdir: where the per-trial CSV curves go under the run dir (the same place as ``logger=csv``).

    Raises:
        ConfigError: ``mode`` is not one of offline, online, disabled.
    """

    def __init__(
        self,
        project: str = "tinymoo",
        entity: str | None = None,
        name: str | None = None,
        group: str | None = None,
        tags: list[str] | tuple[str, ...] = (),
        mode: str = "offline",
        log_curves: bool = True,
        subdir: str = "logs",
    ) -> None:
        if mode not in MODES:
            raise ConfigError("logger.mode", f"unknown mode {mode!r}", choices=MODES)
        self.project = project
        self.entity = entity
        self.name = name
        self.group = group
        self.tags = [str(t) for t in tags or ()]
        self.mode = mode
        self.log_curves = bool(log_curves)
        self.subdir = subdir
        self._run: Any = None
        self._run_dir: Path | None = None
        self._step = 0
        self._counts = {s.value: 0 for s in (TrialStatus.COMPLETE, TrialStatus.INFEASIBLE, TrialStatus.FAILED)}
        self._curves: dict[int, tuple[list[str], list[list[Any]]]] = {}
        self._warned = False

    def __getstate__(self) -> dict[str, Any]:
        """Picklable (e.g. for executors that ship the logger): the wandb run stays in the search's process."""
        state = self.__dict__.copy()
        state["_run"] = None
        return state

    # --- SearchLogger hooks ------------------------------------------------------------------------------
    def start(self, run_dir: str, config: dict[str, Any]) -> None:
        """Start the wandb run, with ``dir=run_dir`` and the resolved run config."""
        self._run_dir = Path(run_dir)
        mode = os.environ.get("WANDB_MODE") or self.mode
        try:
            import wandb

            self._run_dir.mkdir(parents=True, exist_ok=True)
            self._run = wandb.init(
                project=self.project,
                entity=self.entity,
                name=self.name or self._run_dir.resolve().name,
                group=self.group,
                tags=self.tags,
                dir=str(self._run_dir),
                mode=mode,  # type: ignore[arg-type]
                config=config,
                reinit="create_new",
            )
            log.debug("wandb run %s (mode %s) in %s", self._run.name, mode, getattr(self._run, "dir", run_dir))
        except Exception as exc:  # tracking must never stop the search
            self._run = None
            self._warn("wandb.init", exc)

    def trial_logger(self, trial_id: int, run_dir: str) -> Logger | None:
        """The per-trial CSV curves of ``logger=csv``; :meth:`log_trial` copies them into the wandb run."""
        return CSVLogger(save_dir=str(Path(run_dir) / self.subdir), name=f"trial_{trial_id}", version="")

    def log_trial(self, result: TrialResult, hypervolume: float) -> None:
        """Log one finished trial (and its training curves) as the next history step."""
        self._step += 1
        status = str(result.status)
        if status in self._counts:
            self._counts[status] += 1
        if self._run is None:
            return
        try:
            import wandb

            row: dict[str, Any] = {
                "search/hypervolume": float(hypervolume),
                **{f"search/{k}": v for k, v in self._counts.items()},
                "trial/id": result.trial_id,
                "trial/status": status,
                "trial/duration_s": float(result.duration_s),
            }
            if result.error:
                row["trial/error"] = str(result.error)
            row.update({f"objectives/{k}": _scalar(v) for k, v in result.objectives.items()})
            row.update({f"params/{k}": _scalar(v) for k, v in result.params.items()})
            row.update({f"metrics/{k}": _scalar(v) for k, v in result.metrics.items()})
            if self.log_curves:
                curves = self._read_curves(result.trial_id)
                if curves is not None:
                    self._curves[result.trial_id] = curves
                    row[f"curves/trial_{result.trial_id}"] = wandb.Table(columns=list[Any](curves[0]), data=curves[1])
            self._run.log(row, step=self._step)
        except Exception as exc:
            self._warn(f"logging trial {result.trial_id}", exc)

    def finish(self, summary: dict[str, Any]) -> None:
        """Log the Pareto set, the trials, the plots and the overlaid curves; fill ``run.summary``; finish."""
        if self._run is None:
            return
        try:
            self._log_final(summary)
        except Exception as exc:
            self._warn("logging the final results", exc)
        try:
            self._run.summary.update(_summary_numbers(summary))
        except Exception as exc:
            self._warn("writing the run summary", exc)
        try:
            offline = getattr(self._run.settings, "mode", None) == "offline"
            self._run.finish()
            if offline:
                log.info("wandb offline run saved; upload it with `wandb sync %s`", self._run_dir_path())
        except Exception as exc:
            self._warn("wandb finish", exc)
        finally:
            self._run = None

    # --- helpers -----------------------------------------------------------------------------------------
    def _log_final(self, summary: dict[str, Any]) -> None:
        import wandb

        data: dict[str, Any] = {}
        assert self._run_dir is not None
        for key, name in (("pareto/front", "pareto.csv"), ("trials/all", "trials.csv")):
            table = _csv_table(self._run_dir / name)
            if table is not None:
                data[key] = wandb.Table(columns=list[Any](table[0]), data=table[1])
        for key, name in (("plots/pareto", "pareto.png"), ("plots/hypervolume", "hypervolume.png")):
            path = self._run_dir / name
            if path.is_file():
                data[key] = wandb.Image(str(path))
        if self._curves:
            data.update(self._curve_charts())
        if data:
            self._run.log(data, step=max(self._step, 1))

    def _curve_charts(self) -> dict[str, Any]:
        """``curves/<metric>``: one line per trial over epochs; ``curves/all``: the long table behind them."""
        import wandb

        metrics = sorted({c for cols, _ in self._curves.values() for c in cols if c != "epoch"})
        long_rows = []
        for tid, (cols, rows) in sorted(self._curves.items()):
            for r in rows:
                values = dict(zip(cols, r, strict=True))
                long_rows.append([tid, values["epoch"], *(values.get(m) for m in metrics)])
        out: dict[str, Any] = {"curves/all": wandb.Table(columns=["trial_id", "epoch", *metrics], data=long_rows)}
        for m in metrics:
            xs, ys, keys = [], [], []
            for tid, (cols, rows) in sorted(self._curves.items()):
                if m not in cols:
                    continue
                i, e = cols.index(m), cols.index("epoch")
                pts = [(r[e], r[i]) for r in rows if r[i] is not None]
                if pts:
                    xs.append([p[0] for p in pts])
                    ys.append([p[1] for p in pts])
                    keys.append(f"trial {tid}")
            if ys:
                out[f"curves/{m}"] = wandb.plot.line_series(xs=xs, ys=ys, keys=keys, title=m, xname="epoch")
        return out

    def _read_curves(self, trial_id: int) -> tuple[list[str], list[list[Any]]] | None:
        """The trial's ``metrics.csv`` merged to one row per epoch: (columns, rows), or None if there is none."""
        assert self._run_dir is not None
        path = self._run_dir / self.subdir / f"trial_{trial_id}" / "metrics.csv"
        if not path.is_file():
            return None
        with path.open(newline="") as f:
            records = list(csv.DictReader(f))
        metrics = [k for k in (records[0].keys() if records else []) if k not in ("epoch", "step")]
        by_epoch: dict[int, dict[str, float]] = {}
        for rec in records:
            try:
                epoch = int(float(rec.get("epoch") or "nan"))
            except ValueError:
                continue
            merged = by_epoch.setdefault(epoch, {})
            for m in metrics:
                value = _number(rec.get(m))
                if value is not None:
                    merged[m] = value
        metrics = [m for m in metrics if any(m in v for v in by_epoch.values())]
        if not by_epoch or not metrics:
            return None
        rows = [[e, *(by_epoch[e].get(m) for m in metrics)] for e in sorted(by_epoch)]
        return ["epoch", *metrics], rows

    def _run_dir_path(self) -> str:
        try:
            return str(Path(self._run.dir).parent)
        except Exception:
            return str(self._run_dir)

    def _warn(self, what: str, exc: BaseException) -> None:
        if not self._warned:
            self._warned = True
            log.warning(
                "wandb tracking failed (%s: %s: %s); the search goes on and its results are in the run directory "
                "as usual. Further wandb errors are logged at debug level.",
                what,
                type(exc).__name__,
                exc,
            )
        else:
            log.debug("wandb tracking failed (%s): %r", what, exc)


def _number(text: str | None) -> float | None:
    """A CSV cell as a finite float, or None."""
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _scalar(value: Any) -> Any:
    """A value wandb can chart: numbers as float, everything else as its string."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return float(value)
    return str(value)


def _csv_table(path: Path) -> tuple[list[str], list[list[Any]]] | None:
    """A report CSV as (columns, rows): numeric columns as floats, True/False as bools, empty cells as None."""
    if not path.is_file():
        return None
    with path.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        rows = list(reader)
    if not header:
        return None
    columns: list[list[Any]] = []
    for j in range(len(header)):
        cells = [r[j] if j < len(r) else "" for r in rows]
        filled = [c for c in cells if c != ""]
        if filled and all(c in ("True", "False") for c in filled):
            columns.append([None if c == "" else c == "True" for c in cells])
            continue
        try:
            columns.append([None if c == "" else float(c) for c in cells])
        except ValueError:
            columns.append([None if c == "" else c for c in cells])
    data = [[col[i] for col in columns] for i in range(len(rows))]
    return header, data


def _summary_numbers(summary: dict[str, Any]) -> dict[str, Any]:
    """The run summary for ``run.summary``: scalars and small dicts as they are, the HV history dropped."""
    out: dict[str, Any] = {}
    for key, value in summary.items():
        if key == "hypervolume_history":  # already the search/hypervolume history
            continue
        if isinstance(value, dict):
            for k, v in value.items():
                out[f"{key}/{k}"] = v
        else:
            out[key] = value
    return out
