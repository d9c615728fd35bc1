"""WeCom's server API under `/cgi-bin/`, one module per area. Importing this package
registers every route in `routing.ROUTES`."""

from wecom_sandbox.wecom_api import (
    auth,
    contact_ways,
    customers,
    directory,
    group_chats,
    group_sends,
    media,
    messages,
    oauth,
    tags,
    transfers,
    welcome,
)
from wecom_sandbox.wecom_api.routing import ROUTES, handle_api

__all__ = [
    "ROUTES",
    "auth",
    "contact_ways",
    "customers",
    "directory",
    "group_chats",
    "group_sends",
    "handle_api",
    "media",
    "messages",
    "oauth",
    "tags",
    "transfers",
    "welcome",
]
