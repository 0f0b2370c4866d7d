"""Alembic revision scripts of the shared schema, oldest first."""
