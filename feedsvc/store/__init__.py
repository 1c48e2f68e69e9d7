"""The only SQL in feedsvc: schema, migrations, sources, articles, behind one ``Store``.

Modules by domain: ``schema`` (tables), ``engine`` (dialect specifics and
transactions), ``migrate`` (Alembic, run on open), ``sources`` and ``articles``
(the SQL), ``facade`` (the ``Store`` and its exception boundary). Nothing here
fetches, parses or decides schedules.
"""

from feedsvc.store.facade import Store

__all__ = ["Store"]
