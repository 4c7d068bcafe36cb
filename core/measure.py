"""``python -m core.measure RUN_DIR``: real .tflite sizes and TFLM arenas beside the estimates (core.tflm.measure)."""

import sys

from core.tflm.measure import main

if __name__ == "__main__":
    sys.exit(main())
