"""Run feedsvc as ``python -m feedsvc``."""

from feedsvc.cli import main

raise SystemExit(main())
