"""``latchkey.httpx.Auth``: latchkey credentials for ``httpx.Client`` and ``httpx.AsyncClient``.

>>> client = httpx.Client(auth=latchkey.httpx.Auth(manager))  # doctest: +SKIP
"""

from __future__ import annotations

import httpx as _httpx

from ._httpx_flow import build_auth_class

Auth = build_auth_class(_httpx)

__all__ = ["Auth"]
