"""The state store: SQLAlchemy tables (``tables``), their Alembic migrations (``migrate``) and the Store."""
