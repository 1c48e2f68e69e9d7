"""Alembic environment and revisions of the feedsvc schema, run by ``feedsvc.store.migrate``."""
