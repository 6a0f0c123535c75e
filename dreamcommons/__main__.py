"""``python -m dreamcommons``: the same as the ``dreamcommons`` command."""

import sys

from dreamcommons.cli.main import main

sys.exit(main())
