"""``python -m zerolog_mw``: the same as the ``zerolog-mw`` command."""

import sys

from .cli import main

sys.exit(main())
