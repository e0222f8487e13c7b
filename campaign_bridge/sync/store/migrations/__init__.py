"""Alembic environment and revisions of the state store; applied by :func:`campaign_bridge.sync.store.migrate.upgrade`."""
