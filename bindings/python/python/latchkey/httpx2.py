"""``latchkey.httpx2.Auth``: the same adapter for the ``httpx2`` fork (dhis2w-client and
authlib use it); importable when ``httpx2`` is installed."""

from __future__ import annotations

import httpx2 as _httpx2  # type: ignore[import-not-found, unused-ignore]

from ._httpx_flow import build_auth_class

Auth = build_auth_class(_httpx2)

__all__ = ["Auth"]
