"""Alembic's environment for the job database: run on the connection `core.db.upgrade` gives."""

from alembic import context

from core.db import VERSION_TABLE, metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the job database's migrations through core.db.upgrade()")
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
