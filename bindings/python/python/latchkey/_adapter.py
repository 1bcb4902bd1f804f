"""What the HTTP adapters share: which credentials to add, and when a 401 is worth one
retry (the rules of latchkey-reqwest: not when the challenge says a new token cannot help,
e.g. ``insufficient_scope``; not for a body that cannot be sent again; not when the renewed
credentials are the same)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._core import new_token_may_help
from ._manager import TokenManager


def credentials(provider: Any) -> tuple[dict[str, str], dict[str, str]]:
    """The headers and query parameters to add, without waiting when the token is fresh."""
    if isinstance(provider, TokenManager):
        return {"Authorization": provider.header()}, {}
    headers = provider.headers() if hasattr(provider, "headers") else {"Authorization": provider.header()}
    params = provider.query_params() if hasattr(provider, "query_params") else {}
    return dict(headers), dict(params)


async def acredentials(provider: Any) -> tuple[dict[str, str], dict[str, str]]:
    """The async twin of :func:`credentials`."""
    if isinstance(provider, TokenManager):
        header = provider.cached_header()
        return {"Authorization": header if header is not None else await provider.aheader()}, {}
    if hasattr(provider, "aheaders"):
        headers = await provider.aheaders()
        params = provider.query_params() if hasattr(provider, "query_params") else {}
        return dict(headers), dict(params)
    return credentials(provider)


def rejected_header(sent: dict[str, str]) -> str | None:
    """The ``Authorization`` value a 401 answered, for ``invalidate``."""
    for name, value in sent.items():
        if name.lower() == "authorization":
            return value
    return None


def challenge_allows_retry(challenges: Iterable[str]) -> bool:
    """False when a ``WWW-Authenticate`` challenge says a new token cannot help."""
    return all(new_token_may_help(value) for value in challenges)
