"""Durable trial store: stdlib sqlite3 in WAL mode, one file per run directory.

Write protocol (what makes resume exact):

1. ``add_pending``: trials are inserted as ``pending`` with their point before they are evaluated, together
   with the optimizer's state after the ask (so a resumed optimizer never proposes them again).
2. ``finish``: each result is committed as soon as it is known (before the next ask).
3. ``mark_told``: the trials told to the optimizer and the optimizer's new ``state_dict`` are committed in
   one transaction.

On resume, the optimizer is restored from the last state, finished-but-untold trials are told again, and
pending trials are re-evaluated at their stored points. No completed trial is lost or repeated.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from core.interfaces.trial import TrialResult, TrialSpec, TrialStatus

STORE_NAME = "trials.db"  # the store's file name inside a run directory

_SCHEMA = """
CREATE TABLE IF NOT EXISTS trials (
    trial_id    INTEGER PRIMARY KEY,
    status      TEXT NOT NULL,
    x           TEXT NOT NULL,
    params      TEXT NOT NULL,
    objectives  TEXT NOT NULL DEFAULT '{}',
    metrics     TEXT NOT NULL DEFAULT '{}',
    error       TEXT,
    duration_s  REAL NOT NULL DEFAULT 0,
    told        INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  REAL NOT NULL,
    started_at  REAL,
    finished_at REAL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


_TABLES = {"trials", "meta"}


def read_only_check(path: str | Path) -> str | None:
    """What makes ``path`` unusable as a store (empty, not SQLite, corrupt, unreadable metadata), or None.

    The file is opened read-only, so checking changes nothing on disk. (Without a ``-wal`` file it is opened as
    immutable, which creates no ``-wal``/``-shm`` either; a ``-wal`` left by a killed search is read as SQLite's
    recovery would.)
    """
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            return "is empty (0 bytes)"
        wal = path.with_name(path.name + "-wal").exists()
        db = sqlite3.connect(f"{path.resolve().as_uri()}?{'mode=ro' if wal else 'immutable=1'}", uri=True)
    except (OSError, sqlite3.Error) as exc:
        return f"cannot be opened ({exc})"
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables.issuperset(_TABLES):
            return f"is an SQLite file without tinymoo's tables {sorted(_TABLES - tables)}"
        check = db.execute("PRAGMA quick_check").fetchone()
        if check is None or check[0] != "ok":
            return f"is corrupt (SQLite's quick_check: {check[0] if check else 'no answer'})"
        for key, value in db.execute("SELECT key, value FROM meta"):
            try:
                json.loads(value)
            except ValueError:
                return f"holds unreadable metadata '{key}' (not JSON)"
        for (tid,) in db.execute("SELECT trial_id FROM trials WHERE json_valid(x)=0 OR json_valid(params)=0"):
            return f"holds an unreadable trial {tid} (its point is not JSON)"
    except sqlite3.Error as exc:
        return f"is not a readable tinymoo store ({exc})"
    finally:
        db.close()
    return None


class Store:
    """A run's trials and metadata in ``<run_dir>/trials.db``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(trials)")}
        if "started_at" not in columns:  # a store written before trials recorded their start time
            with contextlib.suppress(sqlite3.OperationalError):  # read-only: its trials have no start times
                self._db.execute("ALTER TABLE trials ADD COLUMN started_at REAL")
                columns.add("started_at")
        self._started_col = "started_at" if "started_at" in columns else "NULL"

    def close(self) -> None:
        """Close the connection (checkpointing the WAL)."""
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes -------------------------------------------------------------------------------------------
    def add_pending(self, specs: Iterable[TrialSpec], optimizer_state: dict[str, Any] | None = None) -> None:
        """Insert trials that are about to be evaluated, with the optimizer's state right after it proposed them."""
        now = time.time()
        with self._tx():
            if optimizer_state is not None:
                self._set_meta("optimizer_state", optimizer_state)
            self._db.executemany(
                "INSERT INTO trials (trial_id, status, x, params, created_at) VALUES (?, ?, ?, ?, ?)",
                [(s.trial_id, TrialStatus.PENDING.value, json.dumps(s.x), json.dumps(s.params), now) for s in specs],
            )

    def begin_attempts(self, trial_ids: Iterable[int]) -> None:
        """Count one more evaluation attempt for each trial (so a trial that keeps crashing can be given up) and
        record when it started (the wall time of its latest attempt)."""
        now = time.time()
        with self._tx():
            self._db.executemany(
                "UPDATE trials SET attempts=attempts+1, started_at=? WHERE trial_id=?", [(now, i) for i in trial_ids]
            )

    def take_back_attempts(self, trial_ids: Iterable[int]) -> None:
        """Take back attempts counted by :meth:`begin_attempts` (for interruptions that were not the trial's fault)."""
        with self._tx():
            self._db.executemany(
                "UPDATE trials SET attempts=MAX(attempts-1, 0) WHERE trial_id=?", [(i,) for i in trial_ids]
            )

    def attempts(self, trial_id: int) -> int:
        """How many times evaluation of ``trial_id`` was started."""
        row = self._db.execute("SELECT attempts FROM trials WHERE trial_id=?", (trial_id,)).fetchone()
        return int(row[0]) if row else 0

    def finish(self, result: TrialResult) -> None:
        """Commit a trial's outcome."""
        with self._tx():
            self._db.execute(
                "UPDATE trials SET status=?, objectives=?, metrics=?, error=?, duration_s=?, finished_at=? "
                "WHERE trial_id=?",
                (
                    result.status.value,
                    json.dumps(result.objectives),
                    json.dumps(result.metrics),
                    result.error,
                    result.duration_s,
                    time.time(),
                    result.trial_id,
                ),
            )

    def mark_told(self, trial_ids: Iterable[int], optimizer_state: dict[str, Any]) -> None:
        """Atomically record which trials the optimizer has seen and its resulting state."""
        with self._tx():
            self._db.executemany("UPDATE trials SET told=1 WHERE trial_id=?", [(i,) for i in trial_ids])
            self._set_meta("optimizer_state", optimizer_state)

    def set_meta(self, key: str, value: Any) -> None:
        """Store a JSON-serializable value under ``key``."""
        with self._tx():
            self._set_meta(key, value)

    # -- reads --------------------------------------------------------------------------------------------
    def get_meta(self, key: str, default: Any = None) -> Any:
        """The JSON value stored under ``key``, or ``default``."""
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def results(self, statuses: Iterable[TrialStatus] | None = None) -> list[TrialResult]:
        """Trials ordered by id, optionally filtered by status."""
        rows = self._db.execute(
            "SELECT trial_id, status, x, params, objectives, metrics, error, duration_s FROM trials ORDER BY trial_id"
        ).fetchall()
        wanted = {TrialStatus(s) for s in statuses} if statuses is not None else None
        out = []
        for tid, status, x, params, objectives, metrics, error, duration in rows:
            st = TrialStatus(status)
            if wanted is None or st in wanted:
                out.append(
                    TrialResult(
                        tid,
                        json.loads(x),
                        json.loads(params),
                        st,
                        json.loads(objectives),
                        json.loads(metrics),
                        error,
                        duration,
                    )
                )
        return out

    def timings(self) -> list[tuple[int, float | None, float | None]]:
        """``(trial_id, started_at, finished_at)`` of every trial, by id (Unix times; ``None`` where not yet)."""
        rows = self._db.execute(f"SELECT trial_id, {self._started_col}, finished_at FROM trials ORDER BY trial_id")
        return [(int(t), s, f) for t, s, f in rows]

    def untold_ids(self) -> list[int]:
        """Finished trials whose result has not reached the optimizer."""
        rows = self._db.execute(
            "SELECT trial_id FROM trials WHERE told=0 AND status!=? ORDER BY trial_id",
            (TrialStatus.PENDING.value,),
        )
        return [r[0] for r in rows]

    def next_trial_id(self) -> int:
        """One past the largest trial id."""
        row = self._db.execute("SELECT COALESCE(MAX(trial_id) + 1, 0) FROM trials").fetchone()
        return int(row[0])

    def counts(self) -> dict[str, int]:
        """Number of trials per status (every status present, zero if none)."""
        out = {s.value: 0 for s in TrialStatus}
        for status, n in self._db.execute("SELECT status, COUNT(*) FROM trials GROUP BY status"):
            out[status] = n
        return out

    # -- internals ----------------------------------------------------------------------------------------
    def _set_meta(self, key: str, value: Any) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, json.dumps(value)),
        )

    def _tx(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
