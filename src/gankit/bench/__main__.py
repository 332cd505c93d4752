"""``python -m gankit.bench ...`` is ``gankit bench ...``."""

import sys

from gankit.cli import main

raise SystemExit(main(["bench", *sys.argv[1:]]))
