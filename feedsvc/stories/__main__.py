"""``python -m feedsvc.stories``: cluster JSON lines from stdin, default parameters."""

from feedsvc.stories.cluster import main

raise SystemExit(main())
