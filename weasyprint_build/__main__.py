"""``python -m weasyprint_build``: the same as ``llm-course pdf``."""

import sys

from weasyprint_build.cli import main

sys.exit(main())
