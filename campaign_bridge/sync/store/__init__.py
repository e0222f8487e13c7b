"""The state store: the ``Store`` (``store``), the rows it writes (``rows``) and the state names it keeps
(``states``); its SQLAlchemy tables (``tables``) and their Alembic migrations (``migrate``) are its own."""
