"""A scripted person with a browser, as crates/latchkey-testkit/src/person.rs does it: plain
HTTP with a cookie jar, filling the identity provider's real login, consent and device
confirmation forms."""

from __future__ import annotations

import http.cookiejar
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "method": a.get("method", "get").lower(), "fields": {}})
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value", "")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


class Person:
    def __init__(self, user: str = "alice", password: str = "alice-password") -> None:
        self.user, self.password = user, password
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
            _NoRedirect(),
        )

    def _open(self, url: str, data: dict[str, str] | None = None) -> tuple[str, str | None, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(urllib.request.Request(url, data=body), timeout=10) as r:
                return url, None, r.read().decode()
        except urllib.error.HTTPError as e:  # 3xx without following, or an error page
            location = e.headers.get("location")
            return url, urllib.parse.urljoin(url, location) if location else None, e.read().decode()

    def log_in_and_consent(self, start: str, idp_origin: str) -> str:
        """Follows the IdP's pages from `start`; returns the first URL outside the IdP (the
        client's redirect), or the final page's body (the device flow's success page)."""
        page = self._open(start)
        for _ in range(30):
            url, location, body = page
            if location is not None:
                if not location.startswith(idp_origin):
                    return location
                page = self._open(location)
                continue
            parser = _Forms()
            parser.feed(body)
            if not parser.forms:
                return body
            form = parser.forms[0]
            if "password" in form["fields"]:
                form["fields"].update(login=self.user, password=self.password)
            action = urllib.parse.urljoin(url, form["action"] or url)
            if form["method"] == "post":
                page = self._open(action, form["fields"])
            else:
                page = self._open(action + "?" + urllib.parse.urlencode(form["fields"]))
        raise AssertionError("the login did not finish")

    def follow(self, url: str) -> str:
        return self._open(url)[2]
