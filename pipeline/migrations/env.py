"""Alembic environment: migrations run on the connection Store.migrate passes in."""

from alembic import context
from sqlalchemy import text

from sada.pipeline.store import metadata

connection = context.config.attributes["connection"]
if connection.dialect.name == "postgresql":
    # parallel workers opening the store at once must not race on the schema
    connection.execute(text("SELECT pg_advisory_xact_lock(727274)"))
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
