"""A local France Travail "Offres d'emploi v2" API on 127.0.0.1 following the documented contract.

- ``POST /token``: client credentials (form) -> ``{"access_token", "expires_in", "token_type"}``;
  401 for wrong credentials. Tokens expire after ``token_ttl`` seconds, earlier than the announced
  ``expires_in`` (as when a token is revoked): the client must recover from the 401.
- ``GET /search``: Bearer token required (401 if missing or expired). ``range=a-b`` with at most 150
  offers (b - a < 150) and b <= 1149, else 400. Filters: ``minCreationDate``/``maxCreationDate``
  (inclusive, ISO with Z), ``departement``, ``codeROME`` (comma list). 204 when nothing matches,
  206 with ``Content-Range: offres a-b/total`` when the answer is partial, else 200.
- More than ``rate`` calls in one second -> 429 with ``Retry-After``; every ``fail_every``-th
  search call answers 503 once (a flaky gateway); ``dead_after`` calls -> 503 for ever.
Everything it saw is recorded in ``calls`` and ``violations`` for the tests.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


class FakeFranceTravail:
    def __init__(self, offers: list[dict[str, Any]], client_id: str = "cid", client_secret: str = "secret",
                 token_ttl: float = 2.0, announced_ttl: int = 1499, rate: int = 3, fail_every: int = 7, dead_after: int | None = None) -> None:
        self.offers = sorted(offers, key=lambda o: (o["dateCreation"], o["id"]), reverse=True)
        self.client_id, self.client_secret = client_id, client_secret
        self.announced_ttl = announced_ttl
        self.token_ttl, self.rate, self.fail_every, self.dead_after = token_ttl, rate, fail_every, dead_after
        self.tokens: dict[str, float] = {}
        self.calls: list[tuple[int, dict[str, str]]] = []
        self.violations: list[str] = []
        self.n_429 = self.n_503 = self.n_401 = 0
        self.served = 0
        self._times: list[float] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "FakeFranceTravail":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- the API --------------------------------------------------------------------
    def token(self, form: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if form.get("grant_type") != "client_credentials" or form.get("client_id") != self.client_id \
                or form.get("client_secret") != self.client_secret:
            return 401, {}, {"error": "invalid_client"}
        tok = uuid.uuid4().hex
        self.tokens[tok] = time.monotonic() + self.token_ttl
        return 200, {}, {"access_token": tok, "expires_in": self.announced_ttl, "token_type": "Bearer"}

    def search(self, auth: str, q: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            n = len(self.calls) + 1
            self.calls.append((n, q))
            now = time.monotonic()
            self._times = [t for t in self._times if now - t < 1.0] + [now]
            too_fast = len(self._times) > self.rate
        tok = auth.removeprefix("Bearer ")
        if self.tokens.get(tok, 0) < time.monotonic():
            self.n_401 += 1
            return 401, {}, {"message": "token expired or invalid"}
        if too_fast:
            self.n_429 += 1
            return 429, {"Retry-After": "1"}, {"message": "rate limit"}
        # Only calls that got past the token and rate checks count towards failures, so the
        # scenario does not depend on how fast this machine runs the client.
        with self._lock:
            self.served += 1
            k = self.served
        if self.dead_after is not None and k > self.dead_after or (self.fail_every and k % self.fail_every == 0):
            self.n_503 += 1
            return 503, {}, {"message": "unavailable"}
        try:
            a, b = (int(x) for x in q.get("range", "0-149").split("-"))
        except ValueError:
            return 400, {}, {"message": "bad range"}
        if b < a or b - a + 1 > 150 or b > 1149:
            self.violations.append(f"range {a}-{b}")
            return 400, {}, {"message": "range: 150 results at most per call, last index 1149"}
        lo, hi = q.get("minCreationDate"), q.get("maxCreationDate")
        if (lo is None) != (hi is None):
            return 400, {}, {"message": "minCreationDate and maxCreationDate go together"}
        rows = self.offers
        if lo:
            lo_d, hi_d = (datetime.fromisoformat(x.replace("Z", "")) for x in (lo, hi))
            rows = [o for o in rows if lo_d <= datetime.fromisoformat(o["dateCreation"].replace("Z", "")) <= hi_d]
        if q.get("departement"):
            rows = [o for o in rows if o["lieuTravail"]["commune"].startswith(q["departement"])]
        if q.get("codeROME"):
            codes = set(q["codeROME"].split(","))
            rows = [o for o in rows if o["romeCode"] in codes]
        total = len(rows)
        if total == 0:
            return 204, {}, None
        page = rows[a:b + 1]
        body = {"resultats": page, "filtresPossibles": []}
        if a == 0 and b + 1 >= total:
            return 200, {}, body
        return 206, {"Content-Range": f"offres {a}-{a + len(page) - 1}/{total}"}, body

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, headers: dict[str, str], body: Any) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(n).decode()).items()}
                self._send(*api.token(form))

            def do_GET(self) -> None:
                u = urlparse(self.path)
                if u.path != "/search":
                    return self._send(404, {}, {"message": "not found"})
                q = {k: v[0] for k, v in parse_qs(u.query).items()}
                self._send(*api.search(self.headers.get("Authorization", ""), q))

        return Handler
