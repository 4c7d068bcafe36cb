"""tinymoo's Hydra config tree (a package, so ``pkg://conf`` works from any install)."""
