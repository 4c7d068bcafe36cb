"""An example tinymoo plugin distribution (see README.md): the ``rp2350`` board and the ``simd_align`` compressor.

Kept free of imports: Hydra imports this package to read its config package, and that should not load torch.
"""

__version__ = "0.1.0"
