"""`python -m soundwave` runs the CLI."""

import sys

from soundwave.cli import main

sys.exit(main())
