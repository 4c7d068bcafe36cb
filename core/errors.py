"""User-facing errors: one paragraph naming the key, what was wrong and the valid choices."""

from __future__ import annotations

from collections.abc import Iterable


class TinymooError(Exception):
    """An error caused by user input (config, data, plugins); printed as one paragraph without traceback."""


class ConfigError(TinymooError):
    """A config key holds a bad value.

    Args:
        key: dotted config path, e.g. ``search_space.params.lr.low``.
        problem: what is wrong with it.
        choices: valid values, listed in the message when given.
        hint: optional extra sentence.
    """

    def __init__(
        self, key: str, problem: str, choices: Iterable[object] | None = None, hint: str | None = None
    ) -> None:
        self.key = key
        self.problem = problem
        self.choices = sorted(str(c) for c in choices) if choices is not None else None
        text = f"Config key '{key}': {problem}"
        if not text.endswith("."):
            text += "."
        if self.choices is not None:
            text += " Valid choices: " + (", ".join(self.choices) if self.choices else "(none installed)") + "."
        if hint:
            text += " " + hint
        super().__init__(text)


class DatasetError(TinymooError):
    """A dataset is missing, truncated or malformed."""


class RunDirError(TinymooError):
    """A run directory cannot be used as asked: busy, unreadable, not writable, or holding another search's files.

    Args:
        path: the file or directory concerned.
        problem: what is wrong with it.
        hint: what to do instead (one sentence).
    """

    def __init__(self, path: object, problem: str, hint: str | None = None) -> None:
        self.path = str(path)
        text = f"Run directory file '{path}': {problem}"
        if not text.endswith("."):
            text += "."
        if hint:
            text += " " + hint
        super().__init__(text)


class PluginError(TinymooError):
    """A plugin failed to load or does not implement its interface."""


class TrialTimeout(Exception):
    """Raised inside a trial when it runs past ``search.trial_timeout_s``."""


class TrialDiverged(Exception):
    """Raised inside a trial when the training loss becomes NaN or infinite."""
