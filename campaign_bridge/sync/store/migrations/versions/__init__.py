"""Alembic revisions of the state store, oldest first (``0001_initial``, ``0002_…``)."""
