"""Server-generated ids for tenant entities, users, keys, accounts and positions."""

from __future__ import annotations

import secrets

from servers.storage.relational.tables import ENTITY_ID_LEN


def new_entity_id() -> str:
    """16 lowercase hex characters (64 random bits): unguessable across tenants."""
    return secrets.token_hex(ENTITY_ID_LEN // 2)
