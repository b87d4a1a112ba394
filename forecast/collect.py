"""Collect offers from the France Travail "Offres d'emploi v2" API into JSON lines.

The API returns only the offers active today, so history is built by collecting every day. A
collection asks ``offres/search`` for offers created in a date window in some départements; each
query returns at most 1,150 offers (``range`` pages of at most 150), so a query whose total
(``Content-Range: offres 0-149/TOTAL``) is larger is split — the date window in halves down to one
hour, then by ROME domain (grand domaine, domaine, fiche) — until every part fits.

- OAuth2 client credentials from the environment (``FRANCE_TRAVAIL_CLIENT_ID``,
  ``FRANCE_TRAVAIL_CLIENT_SECRET``); the token is refreshed before it expires and on a 401. The
  secret and the token are never logged nor written.
- At most ``rate`` calls a second (3 by default, the documented limit); 429 and 5xx responses are
  retried with exponential back-off (``Retry-After`` honoured), up to ``retries`` times.
- Resumable: a part's offers are appended to the output only when the part is complete, and the
  part is then recorded in ``<output>.state.json``; a rerun skips the recorded parts.
"""
from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from forecast.errors import ConfigError, DataError, ForecastError

log = logging.getLogger(__name__)

TOKEN_URL = "https://entreprise.francetravail.fr/connexion/oauth2/access_token?realm=%2Fpartenaire"
SEARCH_URL = "https://api.francetravail.io/partenaire/offresdemploi/v2/offres/search"
SCOPE = "api_offresdemploiv2 o2dsoffre"
PAGE = 150          # offers per call (documented maximum)
MAX_QUERY = 1150    # offers reachable by paging one query (last index 1149)
MIN_WINDOW = timedelta(hours=1)
_RANGE = re.compile(r"(\d+)-(\d+)/(\d+)")


@dataclass
class CollectReport:
    """What a collection did: parts fetched or skipped (already done), offers written, calls made."""

    output: Path
    parts_done: int = 0
    parts_skipped: int = 0
    offers: int = 0
    calls: int = 0
    retries: int = 0
    token_refreshes: int = 0
    truncated: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Part:
    """One query: a creation-date window, one département, optionally a list of ROME codes."""

    start: datetime
    end: datetime
    departement: str
    romes: tuple[str, ...] = ()
    label: str = ""

    @property
    def key(self) -> str:
        return f"{self.departement}|{self.start:%Y-%m-%dT%H:%M:%S}|{self.end:%Y-%m-%dT%H:%M:%S}|{self.label}"

    def params(self) -> dict[str, str]:
        p = {"minCreationDate": f"{self.start:%Y-%m-%dT%H:%M:%S}Z", "maxCreationDate": f"{self.end:%Y-%m-%dT%H:%M:%S}Z",
             "departement": self.departement}
        if self.romes:
            p["codeROME"] = ",".join(self.romes)
        return p


class FranceTravailClient:
    """HTTP client: token handling, rate limit, retries. ``search(params, first, last)``."""

    def __init__(self, client_id: str, client_secret: str, *, token_url: str = TOKEN_URL,
                 search_url: str = SEARCH_URL, rate: float = 3.0, retries: int = 6, backoff: float = 0.5,
                 timeout: float = 30.0, sleep: Callable[[float], None] = time.sleep) -> None:
        import requests

        if not client_id or not client_secret:
            raise ConfigError("France Travail API credentials missing: set FRANCE_TRAVAIL_CLIENT_ID and "
                              "FRANCE_TRAVAIL_CLIENT_SECRET in the environment")
        self._id, self._secret = client_id, client_secret
        self.token_url, self.search_url = token_url, search_url
        self.min_interval = 1.0 / rate if rate > 0 else 0.0
        self.retries, self.backoff, self.timeout = retries, backoff, timeout
        self.sleep = sleep
        self.session = requests.Session()
        self._token: str | None = None
        self._expires = 0.0
        self._last_call = 0.0
        self.calls = self.retried = self.refreshes = 0

    def __repr__(self) -> str:   # never show the credentials
        return f"FranceTravailClient(search_url={self.search_url!r})"

    @classmethod
    def from_env(cls, **kw: Any) -> "FranceTravailClient":
        """Credentials from the environment; ``FRANCE_TRAVAIL_TOKEN_URL`` / ``FRANCE_TRAVAIL_SEARCH_URL``
        override the endpoints (a sandbox, a proxy, a local test server)."""
        kw.setdefault("token_url", os.environ.get("FRANCE_TRAVAIL_TOKEN_URL") or TOKEN_URL)
        kw.setdefault("search_url", os.environ.get("FRANCE_TRAVAIL_SEARCH_URL") or SEARCH_URL)
        return cls(os.environ.get("FRANCE_TRAVAIL_CLIENT_ID", ""), os.environ.get("FRANCE_TRAVAIL_CLIENT_SECRET", ""), **kw)

    def _wait_turn(self) -> None:
        gap = time.monotonic() - self._last_call
        if gap < self.min_interval:
            self.sleep(self.min_interval - gap)
        self._last_call = time.monotonic()

    def _refresh_token(self) -> None:
        import requests

        self._wait_turn()
        try:
            r = self.session.post(self.token_url, timeout=self.timeout, data={
                "grant_type": "client_credentials", "client_id": self._id, "client_secret": self._secret, "scope": SCOPE})
        except requests.RequestException as exc:
            raise ForecastError(f"France Travail token request failed ({type(exc).__name__})") from None
        if r.status_code != 200:
            raise ForecastError(f"France Travail token refused (HTTP {r.status_code}): check the credentials")
        body = r.json()
        self._token = body["access_token"]
        ttl = float(body.get("expires_in", 1499))
        self._expires = time.monotonic() + ttl - min(30.0, ttl / 10)
        self.refreshes += 1
        log.debug("token obtained (valid %s s)", body.get("expires_in"))

    def search(self, params: dict[str, str], first: int, last: int) -> tuple[int, list[dict[str, Any]], int]:
        """One page: (HTTP status, offers, total announced by Content-Range or the page size)."""
        import requests

        attempt = 0
        while True:
            if self._token is None or time.monotonic() >= self._expires:
                self._refresh_token()
            self._wait_turn()
            self.calls += 1
            try:
                r = self.session.get(self.search_url, params={**params, "range": f"{first}-{last}"},
                                     headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json"},
                                     timeout=self.timeout)
                status = r.status_code
            except requests.RequestException as exc:
                status, r = 599, None
                log.debug("network error %s", type(exc).__name__)
            if status == 401 and attempt <= self.retries:
                self._token = None
                attempt += 1
                continue
            if (status == 429 or status >= 500) and attempt < self.retries:
                attempt += 1
                self.retried += 1
                retry_after = r.headers.get("Retry-After") if r is not None else None
                delay = float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() \
                    else self.backoff * 2 ** (attempt - 1)
                log.debug("HTTP %s on %s: retry %d in %.1f s", status, params, attempt, delay)
                self.sleep(delay)
                continue
            break
        if status == 204:
            return status, [], 0
        if status not in (200, 206):
            raise ForecastError(f"France Travail search failed (HTTP {status}) for {params} range {first}-{last}")
        offers = r.json().get("resultats", [])
        m = _RANGE.search(r.headers.get("Content-Range", ""))
        total = int(m.group(3)) if m else first + len(offers)
        return status, offers, total


def _rome_groups(romes: tuple[str, ...]) -> list[tuple[str, tuple[str, ...]]]:
    """Split a ROME filter one level down: all -> grand domaines -> domaines -> fiches."""
    from forecast import referential

    codes = sorted(set(referential.load_fiches()["code_rome"]))
    if not romes:
        level, pool = 1, codes
    else:
        prefix = os.path.commonprefix(list(romes))
        level, pool = (3 if len(prefix) < 3 else 5), list(romes)
    groups: dict[str, list[str]] = {}
    for c in pool:
        groups.setdefault(c[:level], []).append(c)
    return [(k, tuple(v)) for k, v in sorted(groups.items())]


def _split(part: Part) -> list[Part]:
    if part.end - part.start > MIN_WINDOW:
        mid = part.start + (part.end - part.start) / 2
        mid = mid.replace(microsecond=0)
        return [Part(part.start, mid, part.departement, part.romes, part.label),
                Part(mid + timedelta(seconds=1), part.end, part.departement, part.romes, part.label)]
    if len(part.romes) == 1:
        return []
    return [Part(part.start, part.end, part.departement, codes, label) for label, codes in _rome_groups(part.romes)]


def _fetch_part(client: FranceTravailClient, part: Part, report: CollectReport) -> Iterator[Part] | list[dict[str, Any]]:
    status, offers, total = client.search(part.params(), 0, PAGE - 1)
    if total > MAX_QUERY:
        subs = _split(part)
        if subs:
            log.debug("%s: %d offers > %d, split in %d", part.key, total, MAX_QUERY, len(subs))
            return iter(subs)
        report.truncated.append(part.key)
        log.warning("%s: %d offers but only %d reachable (one hour, one fiche)", part.key, total, MAX_QUERY)
    out = list(offers)
    first = PAGE
    while status == 206 and first < min(total, MAX_QUERY):
        last = min(first + PAGE, min(total, MAX_QUERY)) - 1
        status, page, _ = client.search(part.params(), first, last)
        out.extend(page)
        first = last + 1
    return out


def collect(output: Path, departements: list[str], since: datetime, until: datetime,
            client: FranceTravailClient | None = None, romes: list[str] | None = None) -> CollectReport:
    """Collect the offers created in [since, until] in ``departements`` into ``output`` (JSON lines, appended)."""
    if until <= since:
        raise DataError(f"collect: until ({until:%Y-%m-%d %H:%M}) must be after since ({since:%Y-%m-%d %H:%M})")
    if not departements:
        raise DataError("collect: name at least one département (e.g. 51)")
    client = client or FranceTravailClient.from_env()
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    state_path = output.with_name(output.name + ".state.json")
    done: set[str] = set(json.loads(state_path.read_text(encoding="utf-8"))["done"]) if state_path.exists() else set()
    report = CollectReport(output)
    stack = [Part(since, until, d, tuple(romes or ()), "") for d in reversed(departements)]
    seen: set[str] = set()
    while stack:
        part = stack.pop()
        if part.key in done:
            report.parts_skipped += 1
            continue
        res = _fetch_part(client, part, report)
        if not isinstance(res, list):
            stack.extend(reversed(list(res)))
            continue
        fresh = [o for o in res if str(o.get("id")) not in seen]
        seen.update(str(o.get("id")) for o in fresh)
        with output.open("a", encoding="utf-8") as fh:
            fh.writelines(json.dumps(o, ensure_ascii=False) + "\n" for o in fresh)
            fh.flush()
            os.fsync(fh.fileno())
        done.add(part.key)
        _write_state(state_path, done)
        report.parts_done += 1
        report.offers += len(fresh)
    report.calls, report.retries, report.token_refreshes = client.calls, client.retried, client.refreshes
    log.info("collected %d offers in %d parts (%d calls, %d retries)", report.offers, report.parts_done,
             report.calls, report.retries)
    return report


def _write_state(path: Path, done: set[str]) -> None:
    from forecast.io import write_text

    write_text(json.dumps({"done": sorted(done)}, indent=0), path)
