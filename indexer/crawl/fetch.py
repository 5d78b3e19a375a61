"""HTTP for the crawler: httpx (keep-alive, gzip/brotli), robots.txt by protego (RFC 9309), and bounds.

Every request has a per-read timeout and a total deadline (connect plus the whole body), so a
server that drips a byte a second costs at most the deadline. A body cut short of its
Content-Length, a redirect loop, a page over the size limit: each is a FetchError whose message is
the reason recorded for the page. Retries (timeouts, 5xx, 429 with Retry-After) back off
exponentially; requests to one host wait `delay` seconds apart (longer if robots.txt asks).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpx
from protego import Protego

USER_AGENT = "NewsArchiveSearchBot/0.2 (+newsroom archive indexer; respects robots.txt)"
ROBOTS_AGENT = "NewsArchiveSearchBot"
HTML_TYPES = ("text/html", "application/xhtml+xml")
REDIRECTS = (301, 302, 303, 307, 308)


@dataclass
class Response:
    url: str          # after redirects
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


class FetchError(Exception):
    """A page could not be fetched; the message is the reason recorded."""


class _Robots:
    """One site's robots.txt: None rules = everything allowed; `blocked` = the file could not be read."""

    def __init__(self, rules: Protego | None = None, blocked: bool = False) -> None:
        self.rules, self.blocked = rules, blocked

    def allowed(self, url: str) -> bool:
        return not self.blocked and (self.rules is None or self.rules.can_fetch(url, ROBOTS_AGENT))

    def delay(self) -> float:
        value = self.rules.crawl_delay(ROBOTS_AGENT) if self.rules else None
        return float(value or 0.0)

    def sitemaps(self) -> list[str]:
        return list(self.rules.sitemaps) if self.rules else []


class Fetcher:
    """GET (and form POST, for ASP.NET pagination) with timeouts, a deadline, retries, per-host delay,
    robots.txt and a size limit."""

    def __init__(self, timeout: float = 20.0, retries: int = 3, backoff: float = 1.0, max_bytes: int = 5_000_000,
                 delay: float = 1.0, user_agent: str = USER_AGENT, sleep: Callable[[float], None] = time.sleep,
                 deadline: float = 60.0, max_redirects: int = 10):
        self.timeout, self.retries, self.backoff, self.max_bytes = timeout, retries, backoff, max_bytes
        self.delay, self.user_agent, self.sleep = delay, user_agent, sleep
        self.deadline, self.max_redirects = deadline, max_redirects
        self._last_request: dict[str, float] = {}
        self._robots: dict[str, _Robots] = {}
        self.client = httpx.Client(follow_redirects=False, timeout=httpx.Timeout(timeout), headers={
            "User-Agent": user_agent, "Accept-Language": "vi,en;q=0.5",
            "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.5"})

    def close(self) -> None:
        self.client.close()

    def _wait_turn(self, url: str) -> None:
        host = urlsplit(url).netloc
        last = self._last_request.get(host)
        if last is not None:
            remaining = max(self.delay, self.robots(url).delay()) - (time.monotonic() - last)
            if remaining > 0:
                self.sleep(remaining)
        self._last_request[host] = time.monotonic()

    def robots(self, url: str) -> _Robots:
        parts = urlsplit(url)
        root = f"{parts.scheme}://{parts.netloc}"
        if root not in self._robots:
            self._robots[root] = _Robots()  # while it is being read
            try:
                response = self.get(root + "/robots.txt", check_robots=False, retries=1)
                self._robots[root] = _Robots(Protego.parse(response.body.decode("utf-8", errors="replace")))
            except FetchError as exc:
                # RFC 9309: an unavailable robots.txt (4xx) means no rules; an unreachable one
                # (5xx, timeout) means the whole site is disallowed until it can be read.
                self._robots[root] = _Robots(blocked=not str(exc).startswith("HTTP 4"))
        return self._robots[root]

    def allowed(self, url: str) -> bool:
        return self.robots(url).allowed(url)

    def get(self, url: str, validators: dict[str, str] | None = None, check_robots: bool = True,
            retries: int | None = None, form: dict[str, str] | None = None) -> Response:
        """Fetch with conditional-GET validators (or POST `form`); 304 comes back as a Response,
        errors as FetchError."""
        if check_robots and not self.allowed(url):
            raise FetchError("disallowed by robots.txt")
        headers = {}
        if validators:
            if validators.get("etag"):
                headers["If-None-Match"] = validators["etag"]
            if validators.get("last_modified"):
                headers["If-Modified-Since"] = validators["last_modified"]
        attempts = self.retries if retries is None else retries
        for attempt in range(attempts):
            self._wait_turn(url)
            try:
                return self._follow(url, headers, form, check_robots)
            except _Retryable as exc:
                if attempt == attempts - 1:
                    raise FetchError(exc.reason) from None
                self.sleep(self._retry_after(exc.retry_after, attempt))
        raise FetchError("no attempt made")

    def _follow(self, url: str, headers: dict[str, str], form: dict[str, str] | None,
                check_robots: bool) -> Response:
        """One attempt, redirects followed by hand: a loop is reported as one."""
        seen = [url]
        for _ in range(self.max_redirects + 1):
            response = self._once(url, headers, form)
            if response.status not in REDIRECTS or "location" not in response.headers:
                return response
            target = urljoin(url, response.headers["location"])
            if target in seen:
                raise FetchError("redirect loop: " + " → ".join([*seen[seen.index(target):], target]))
            if check_robots and not self.allowed(target):
                raise FetchError("redirected to a page disallowed by robots.txt")
            seen.append(target)
            url, form = target, (form if response.status in (307, 308) else None)
        raise FetchError(f"more than {self.max_redirects} redirects")

    def _once(self, url: str, headers: dict[str, str], form: dict[str, str] | None) -> Response:
        started = time.monotonic()
        try:
            with self.client.stream("POST" if form is not None else "GET", url, headers=headers, data=form) as resp:
                declared = resp.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > self.max_bytes:
                    raise FetchError(f"larger than {self.max_bytes} bytes (Content-Length {declared})")
                if resp.status_code == 429 or resp.status_code >= 500:
                    raise _Retryable(f"HTTP {resp.status_code}", resp.headers.get("retry-after"))
                if resp.status_code >= 400 and resp.status_code != 304:
                    raise FetchError(f"HTTP {resp.status_code}")
                chunks, size = [], 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise FetchError(f"larger than {self.max_bytes} bytes")
                    if time.monotonic() - started > self.deadline:
                        raise FetchError(f"slower than the {self.deadline:g} s deadline ({size} bytes received)")
                    chunks.append(chunk)
                return Response(str(resp.url), resp.status_code, {k.lower(): v for k, v in resp.headers.items()},
                                b"".join(chunks))
        except httpx.TimeoutException:
            raise _Retryable("timed out") from None
        except httpx.RemoteProtocolError as exc:
            message = str(exc)
            if "incomplete" in message or "without sending complete message body" in message:
                raise FetchError(f"truncated: the connection closed before the whole body ({message})") from None
            raise _Retryable(f"connection cut: {message}") from None
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise _Retryable(f"connection failed: {exc or type(exc).__name__}") from None

    def _retry_after(self, value: str | None, attempt: int) -> float:
        """Honour Retry-After (seconds or an HTTP date), capped at a minute; else exponential."""
        if value:
            try:
                return min(60.0, float(value))
            except ValueError:
                try:
                    return min(60.0, max(0.0, parsedate_to_datetime(value).timestamp() - time.time()))
                except (TypeError, ValueError):
                    pass
        return self.backoff * 2 ** attempt


class _Retryable(Exception):
    """A failure worth another attempt (timeouts, cut connections, 5xx, 429)."""

    def __init__(self, reason: str, retry_after: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after
