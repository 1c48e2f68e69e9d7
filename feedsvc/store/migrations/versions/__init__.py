"""Alembic revisions of the feedsvc schema, oldest first by revision id."""
