"""`python -m skewguard` runs the CLI."""

from skewguard.cli import main

raise SystemExit(main())
