"""``python -m curation.cli``: the ``curation`` command."""

import sys

from curation.cli.main import main

sys.exit(main())
