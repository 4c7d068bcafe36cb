"""The search: ask the optimizer, run the trials, store the results, tell the optimizer, repeat.

:mod:`~core.search.loop` is the loop (:class:`~core.search.loop.Search`); :mod:`~core.search.checks` refuses bad
input before the first trial and :mod:`~core.search.overrides` on the command line; :mod:`~core.search.space` maps
the unit cube to config overrides; :mod:`~core.search.store` and :mod:`~core.search.run_dir` keep the trials
durable and the run directory safe; :mod:`~core.search.pareto`, :mod:`~core.search.timeline` and
:mod:`~core.search.lookahead` serve the loop; :mod:`~core.search.model_based`, :mod:`~core.search.surrogate`,
:mod:`~core.search.design` and :mod:`~core.search.log_ehvi` are what model-based optimizers build on;
:mod:`~core.search.executor_support` helps executors run trials elsewhere; :mod:`~core.search.multirun` sums up a
Hydra sweep.

This package imports nothing on its own, so the light modules (store, executor support) stay light.
"""
