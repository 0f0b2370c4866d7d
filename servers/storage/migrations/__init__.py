"""Alembic migrations of the shared schema (tenant schemas: relational/tenant_schema.py)."""
