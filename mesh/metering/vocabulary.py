"""The names metered usage is recorded under, shared by the services that write and read it."""

from __future__ import annotations

# Every service meters API calls as (its component name, the method name); these are the
# names that do not follow from a method, so producers and readers must agree on them here
# rather than import one another.

TICK_SERVICE = "bridge"
"""The service whose data points are ticks delivered to subscribers."""

TICK_ENDPOINT = "ticks"
"""The endpoint delivered ticks are metered under: "Subscribe" itself counts API calls
(one a call), so the ticks it delivers need an endpoint of their own."""


def endpoint_key(service: str, endpoint: str) -> str:
    """How QueryUsage(group_by="endpoint") names a group: endpoint names repeat across
    services, so the key names both, e.g. "bridge/Subscribe"."""
    return f"{service}/{endpoint}"


TICKS_KEY = endpoint_key(TICK_SERVICE, TICK_ENDPOINT)
"""QueryUsage's endpoint key for delivered ticks."""

HISTORY_ENDPOINT = "history"
"""The endpoint market-data history rows returned by the Bridge's HistoryService are
metered under (data points = rows: ticks, bars or quotes), billed like delivered ticks."""

HISTORY_KEY = endpoint_key(TICK_SERVICE, HISTORY_ENDPOINT)
"""QueryUsage's endpoint key for history rows."""

SERVER_ERRORS_ENDPOINT = "server_errors"
"""The endpoint each service meters a tenant's calls under that ended in a server-side
error (SERVER_ERROR_CODES), one data point each, beside the call itself: customer health
reads their share of the tenant's calls."""


def is_server_errors_key(key: str) -> bool:
    """Whether a QueryUsage endpoint key counts server-side errors (of any service)."""
    return key.endswith(f"/{SERVER_ERRORS_ENDPOINT}")
