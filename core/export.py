"""``python -m core.export RUN_DIR``: the Pareto models as int8 .tflite files and C arrays (core.tflm.export)."""

import sys

from core.tflm.export import main

if __name__ == "__main__":
    sys.exit(main())
