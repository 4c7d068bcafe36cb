"""One trial: build the data, the model and the compressors from a config, train, compress to int8, measure.

:mod:`~core.trial.evaluate` runs a trial; :mod:`~core.trial.training` is the Lightning module and the trial's
deadline; :mod:`~core.trial.datamodule` the datasets' common data module; :mod:`~core.trial.prune_groups` and
:mod:`~core.trial.surgery` the structured pruning; :mod:`~core.trial.int8_quantizer` and :mod:`~core.trial.int8`
the one int8 stack, in the :mod:`~core.trial.deployed_layout`; :mod:`~core.trial.known_costs` a candidate's
exact costs without training; :mod:`~core.trial.checkpoint` the weights a trial saves; :mod:`~core.trial.weight_init`
the model plugins' initialization.

This package imports nothing on its own.
"""
