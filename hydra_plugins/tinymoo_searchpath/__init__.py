"""Hydra discovers plugins in the ``hydra_plugins`` namespace; this exposes tinymoo's config search path."""

from core.plugins import TinymooSearchPathPlugin

__all__ = ["TinymooSearchPathPlugin"]
