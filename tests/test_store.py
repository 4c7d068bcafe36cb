"""Store: WAL mode, pending -> finished -> told protocol, metadata, and reopening."""

from __future__ import annotations

import contextlib
import sqlite3

from core.interfaces.trial import TrialResult, TrialSpec, TrialStatus
from core.search.store import Store


def _spec(i: int) -> TrialSpec:
    return TrialSpec(i, [0.1 * i, 0.5], {"model.width": 8 + i}, {}, "/tmp")


def test_protocol_and_reopen(tmp_path) -> None:
    path = tmp_path / "trials.db"
    with Store(path) as store:
        assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        store.add_pending([_spec(0), _spec(1)])
        assert store.counts()["pending"] == 2 and store.next_trial_id() == 2
        store.finish(TrialResult(0, [0.0, 0.5], {"model.width": 8}, TrialStatus.COMPLETE, {"error": 0.1}, {"a": 1.0}))
        store.finish(TrialResult(1, [0.1, 0.5], {"model.width": 9}, TrialStatus.FAILED, error="boom", duration_s=2.0))
        assert store.untold_ids() == [0, 1]
        store.mark_told([0], {"asked": 2})
        store.set_meta("objectives", ["error", "flash"])
    with Store(path) as store:  # everything survived the close
        assert store.untold_ids() == [1]
        assert store.get_meta("optimizer_state") == {"asked": 2}
        assert store.get_meta("objectives") == ["error", "flash"]
        assert store.get_meta("missing", 7) == 7
        done = store.results()
        assert [r.status for r in done] == [TrialStatus.COMPLETE, TrialStatus.FAILED]
        assert done[0].objectives == {"error": 0.1} and done[0].params == {"model.width": 8}
        assert done[1].error == "boom" and done[1].duration_s == 2.0
        assert [r.trial_id for r in store.results([TrialStatus.FAILED])] == [1]
        assert store.counts() == {"pending": 0, "complete": 1, "infeasible": 0, "failed": 1}


def test_failed_transaction_rolls_back(tmp_path) -> None:
    with Store(tmp_path / "t.db") as store:
        store.add_pending([_spec(0)])
        with contextlib.suppress(sqlite3.IntegrityError):
            store.add_pending([_spec(0)])  # duplicate id: the whole insert must roll back
        assert store.counts()["pending"] == 1
        store.add_pending([_spec(1)])  # the connection is still usable
        assert store.next_trial_id() == 2
