"""``python -m console``: the same as the ``kibo-console`` command."""

import sys

from console.cli import main

sys.exit(main())
