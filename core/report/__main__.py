"""``python -m core.report RUN_DIR [RUN_DIR ...] [--out DIR]`` (see :mod:`core.report.cli`)."""

import sys

from core.report.cli import main

sys.exit(main())
