"""A browser's part in the console tests, over httpx: sign in with an API
token (the session cookie kept), read pages, post forms with their CSRF
token as the page gave it."""

from __future__ import annotations

import html
import re

import httpx

from support.api_server import TOKENS

CSRF = re.compile(r'name="csrf" value="([^"]*)"')


class Browser:
    def __init__(self, url: str, who: str | None = None):
        self.http = httpx.Client(base_url=url, follow_redirects=False, timeout=60)
        self.csrf = ""
        if who is not None:
            r = self.login(TOKENS[who])
            assert r.status_code == 303, r.text

    def login(self, token: str) -> httpx.Response:
        r = self.http.post("/console/login", data={"token": token, "next": "/console/orders"})
        if r.status_code == 303:
            self.get("/console/orders")  # (its CSRF token)
        return r

    def get(self, path: str, **kw) -> httpx.Response:
        r = self.http.get(path, **kw)
        m = CSRF.search(r.text)
        if m:
            self.csrf = html.unescape(m.group(1))
        return r

    def post(self, path: str, data: dict | list, csrf: str | None = None) -> httpx.Response:
        pairs = list(data.items()) if isinstance(data, dict) else list(data)
        pairs.append(("csrf", self.csrf if csrf is None else csrf))
        form: dict = {}
        for k, v in pairs:
            form.setdefault(k, []).append(v)
        return self.http.post(path, data=form)

    def close(self) -> None:
        self.http.close()


def text_of(page: str) -> str:
    """A page's text, tags and the graph's SVG left out, whitespace collapsed."""
    page = re.sub(r"<svg.*?</svg>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()
