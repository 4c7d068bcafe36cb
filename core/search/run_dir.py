"""The run directory's safety rules: one search at a time, no overwritten results, and clear storage errors.

* :class:`RunLock` holds an exclusive ``fcntl.flock`` on ``<run_dir>/.tinymoo.lock`` for the whole search. A second
  search on the same directory (a duplicated ``search.resume=true``, two sweep jobs with one ``hydra.run.dir``)
  exits 2 naming the process that holds it. The lock is released by the OS when its holder exits, even by
  ``kill -9``; the file itself stays (it only records the last holder).
* :func:`check_for_new` and :func:`check_for_resume` run before anything is written: a new search refuses a
  directory that holds an earlier search's files, and a resume needs a readable store. Both leave the directory
  exactly as they found it (the store is opened read-only).
* :func:`storage_error` turns a write that the file system refused (read-only, full disk, permissions) into one
  paragraph naming the path.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sqlite3
import time
from pathlib import Path
from types import TracebackType

from core.errors import RunDirError
from core.search.store import STORE_NAME, read_only_check

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks; documented in the README
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".tinymoo.lock"
# files a finished or interrupted search leaves; a new search never writes over them
OUTPUTS = (STORE_NAME, "trials.csv", "pareto.csv", "summary.json", "models")
_STORAGE_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_SQLITE_STORAGE = ("readonly", "disk is full", "disk i/o error", "unable to open", "read-only")


class RunLock:
    """An exclusive lock on a run directory for the length of a ``with`` block.

    Raises :class:`RunDirError` on entry if another process (or another ``RunLock`` in this one) holds it.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise RunDirError(
                    self.run_dir,
                    f"another search is running in this directory ({holder})",
                    hint="Wait for it to finish (then resume with search.resume=true if you want more trials), "
                    "or give this search its own hydra.run.dir.",
                ) from None
        try:
            os.ftruncate(fd, 0)
            me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
            os.write(fd, json.dumps(me).encode())
        except OSError:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fd is not None:
            if fcntl is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _read_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        return f"process {info['pid']} on {info['host']}, since {info['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that has not yet written its id"


def check_for_new(run_dir: str | Path) -> None:
    """Refuse to start a new search where an earlier one left its files (its store would be overwritten)."""
    run_dir = Path(run_dir)
    store = run_dir / STORE_NAME
    if store.exists():
        problem = read_only_check(store)
        if problem is not None:
            raise RunDirError(
                store,
                f"{problem}; a new search would overwrite what an earlier search left in {run_dir}",
                hint="Move that directory aside, or choose a new hydra.run.dir.",
            )
        return  # a readable store: Search decides (trials in it need search.resume=true)
    found = [name for name in OUTPUTS if (run_dir / name).exists()]
    if found:
        raise RunDirError(
            run_dir,
            f"holds {', '.join(found)} from an earlier search but no {STORE_NAME}, so that search cannot be resumed "
            "and a new one would overwrite its files",
            hint="Choose a new hydra.run.dir, or move those files aside.",
        )


def check_for_resume(run_dir: str | Path) -> None:
    """A resume needs a readable store; a missing, empty or corrupt one is refused without touching anything."""
    store = Path(run_dir) / STORE_NAME
    if not store.exists():
        raise RunDirError(
            store,
            "does not exist, so search.resume=true has nothing to resume (is hydra.run.dir the directory of the "
            "search you meant?)",
            hint="Point hydra.run.dir at an earlier search's directory, or drop search.resume=true to start a new "
            "search.",
        )
    problem = read_only_check(store)
    if problem is not None:
        raise RunDirError(
            store,
            f"{problem}, so the search cannot be resumed; nothing was changed",
            hint="Restore the file from a backup, or start a new search in a new hydra.run.dir.",
        )


def storage_error(exc: BaseException, run_dir: str | Path) -> RunDirError | None:
    """The :class:`RunDirError` for a write the file system refused, or None for any other error."""
    if isinstance(exc, OSError) and exc.errno in _STORAGE_ERRNOS:
        path = exc.filename or run_dir
        return RunDirError(
            path,
            f"cannot be written ({exc.strerror or exc}); the trials already stored are kept",
            hint="Make the run directory writable or free some space, then resume with search.resume=true.",
        )
    if isinstance(exc, sqlite3.OperationalError) and any(s in str(exc).lower() for s in _SQLITE_STORAGE):
        return RunDirError(
            Path(run_dir) / STORE_NAME,
            f"cannot be written ({exc}); the trials already stored are kept",
            hint="Make the run directory writable or free some space, then resume with search.resume=true.",
        )
    return None
