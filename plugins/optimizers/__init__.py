"""Optimizer plugins (entry-point group ``tinymoo.optimizers``)."""
