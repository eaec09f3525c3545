"""`python -m comments_api` is the same as the `comments-api` command."""

from .cli import main

raise SystemExit(main())
