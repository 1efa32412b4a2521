"""Entry point for ``python -m rig``."""

from rig.cli import main

raise SystemExit(main())
