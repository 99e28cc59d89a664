"""What a page view is to the rules: its page (host and path) and the page's kind.

A page is the URL without scheme, port, query or fragment: `?utm_source=...` and
`#pricing-table` are the same page to a person, and a reload storm of either counts once.
The kind comes from the model's ordered page rules (model.py: `ScoringModel.page_kind`).
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import urlsplit

from streams.core.records import digest32


class Page(NamedTuple):
    host: str  # lowercased, no port
    path: str  # "/" at least, no trailing slash otherwise


def page_of(url: str) -> Page:
    """The page a URL shows (the contract holds `url` to http or https with a host)."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").rstrip(".")
    except ValueError:  # a malformed port or IPv6 literal: the text up to the path
        rest = url.partition("://")[2]
        host, _, path = rest.partition("/")
        return Page(host.lower(), "/" + path.split("?")[0].split("#")[0].rstrip("/"))
    path = parts.path.rstrip("/") or "/"
    return Page(host, path)


def session_page_key(session_id: str | None, page: Page) -> int:
    """What a page view's record keeps to tell a repeat: the page within its session
    (without a session id, the page alone: a lead's repeat views within the window)."""
    return digest32(f"{session_id or ''}\x1f{page.host}{page.path}")
