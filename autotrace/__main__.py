"""python -m autotrace: the same as the `autotrace` command."""

import sys

from autotrace.cli import main

sys.exit(main())
