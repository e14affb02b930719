"""`python -m accesstoken`: the same command line as the `accesstoken` script."""

from ._cli import main

raise SystemExit(main())
