"""The store: peewee models on SQLite (default) or PostgreSQL."""
from .db import database, open_store, resolve_url, utcnow, write_transaction  # noqa: F401
