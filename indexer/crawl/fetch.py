"""HTTP for the crawler: httpx (keep-alive), robots.txt by protego (RFC 9309), and bounds.

Every request has a per-read timeout and a total deadline (connect plus the whole body), so a
server that drips a byte a second costs at most the deadline. A body cut short of its
Content-Length, a redirect loop, a page over the size limit: each is a FetchError whose message is
the reason recorded for the page. The size limit counts decoded bytes while they are decoded: the
body is read raw and unpacked here (gzip, deflate, brotli), each step asked for no more than the
limit, so a 2 KB brotli bomb costs the limit, not gigabytes. Every request, redirects included,
must pass the crawl's scope (its source's site): a redirect off the site is a FetchError naming
its target. Retries (timeouts, 5xx, 429 with Retry-After) back off
exponentially; requests to one host wait `delay` seconds apart (longer if robots.txt asks).
"""
from __future__ import annotations

import hashlib
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import cached_property
from urllib.parse import urljoin, urlsplit

import brotli
import httpx
from protego import Protego

USER_AGENT = "NewsArchiveSearchBot/0.2 (+newsroom archive indexer; respects robots.txt)"
ROBOTS_AGENT = "NewsArchiveSearchBot"
HTML_TYPES = ("text/html", "application/xhtml+xml")
REDIRECTS = (301, 302, 303, 307, 308)
ENCODINGS = ("gzip", "deflate", "br")  # what Accept-Encoding offers: each one is unpacked bounded below


@dataclass
class Response:
    url: str          # after redirects
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @cached_property
    def digest(self) -> str:
        """SHA-256 of the body: what the crawl compares to tell a changed page (computed once)."""
        return hashlib.sha256(self.body).hexdigest()


class FetchError(Exception):
    """A page could not be fetched: the message is the reason recorded, the class its kind (the
    crawl report counts failures by kind)."""


class OffSite(FetchError):
    """Outside the source's site, or a redirect out of it."""


class RobotsDisallowed(FetchError):
    """robots.txt disallows the page (or the page a redirect leads to)."""


class HTTPStatus(FetchError):
    """An error status: 4xx, or 5xx and 429 once the retries are spent."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class TooLarge(FetchError):
    """Over the size limit: declared, received or unpacked."""


class TooSlow(FetchError):
    """The body did not arrive within the deadline."""


class Truncated(FetchError):
    """The connection closed before the whole body."""


class BadEncoding(FetchError):
    """A Content-Encoding that is unknown, or a body it cannot unpack."""


class Redirects(FetchError):
    """A redirect loop, or more redirects than allowed."""


class Unreachable(FetchError):
    """Timeouts or failed connections, once the retries are spent."""


class NotHTML(FetchError):
    """A page that should be HTML and is not (a listing served as a PDF)."""


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


class _Bounded:
    """Decoded bytes of one body, unpacked step by step (Content-Encoding's list undone from the
    last): no step ever yields more than `limit` bytes in all, or FetchError."""

    def __init__(self, encodings: list[str], limit: int) -> None:
        unknown = [e for e in encodings if e not in ENCODINGS]
        if unknown:
            raise BadEncoding(f"unsupported Content-Encoding {', '.join(unknown)}")
        self.limit = limit
        self.steps = [_Unpacker(e) for e in reversed(encodings)]
        self.sizes = [0] * len(self.steps)

    def feed(self, data: bytes, final: bool = False) -> bytes:
        for index, step in enumerate(self.steps):
            room = self.limit - self.sizes[index] + 1
            data = step.feed(data, room, final)
            self.sizes[index] += len(data)
            if len(data) >= room:
                raise TooLarge(f"larger than {self.limit} bytes decoded")
        return data


class _Unpacker:
    """One content encoding whose output per call is capped at `room` bytes: reaching the cap means
    the body is over the limit, so a bomb is stopped after one bounded step."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self.brotli = brotli.Decompressor() if encoding == "br" else None
        # gzip; deflate is zlib-wrapped by the RFC but raw from some servers: its first bytes decide
        self.zlib = zlib.decompressobj(zlib.MAX_WBITS | 16) if encoding == "gzip" else None
        self.pending = b""

    def feed(self, data: bytes, room: int, final: bool) -> bytes:
        try:
            if self.brotli is not None:
                out = self.brotli.process(data, output_buffer_limit=room)
                while len(out) < room and not self.brotli.can_accept_more_data():
                    out += self.brotli.process(b"", output_buffer_limit=room - len(out))
                return out
            if self.zlib is None:
                self.pending += data
                if len(self.pending) < 2 and not final:
                    return b""
                head = self.pending[:2].ljust(2, b"\0")
                wrapped = (head[0] & 0x0F) == 8 and int.from_bytes(head, "big") % 31 == 0
                self.zlib = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
                data, self.pending = self.pending, b""
            out = self.zlib.decompress(data, room)
            return out + self.zlib.flush(room - len(out)) if final and len(out) < room else out
        except (zlib.error, brotli.error) as exc:
            raise BadEncoding(f"corrupt {self.encoding} body: {exc}") from None


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
        # The crawl's bounds: a URL it may request (its source's site); None allows every URL.
        self.scope: Callable[[str], bool] | None = None
        self.client = httpx.Client(follow_redirects=False, timeout=httpx.Timeout(timeout), headers={
            "User-Agent": user_agent, "Accept-Language": "vi,en;q=0.5", "Accept-Encoding": ", ".join(ENCODINGS),
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
                self._robots[root] = _Robots(blocked=not (isinstance(exc, HTTPStatus) and 400 <= exc.status < 500))
        return self._robots[root]

    def allowed(self, url: str) -> bool:
        return self.robots(url).allowed(url)

    def get(self, url: str, validators: dict[str, str] | None = None, check_robots: bool = True,
            retries: int | None = None, form: dict[str, str] | None = None) -> Response:
        """Fetch with conditional-GET validators (or POST `form`); 304 comes back as a Response,
        errors as FetchError."""
        if self.scope is not None and not self.scope(url):
            raise OffSite(f"off the site: {url}")
        if check_robots and not self.allowed(url):
            raise RobotsDisallowed("disallowed by robots.txt")
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
                    raise (HTTPStatus(exc.status) if exc.status else Unreachable(exc.reason)) from None
                self.sleep(self._retry_after(exc.retry_after, attempt))
        raise Unreachable("no attempt made")

    def _follow(self, url: str, headers: dict[str, str], form: dict[str, str] | None,
                check_robots: bool) -> Response:
        """One attempt, redirects followed by hand: a loop is reported as one."""
        seen = [url]
        for _ in range(self.max_redirects + 1):
            response = self._once(url, headers, form)
            if response.status not in REDIRECTS or "location" not in response.headers:
                return response
            target = urljoin(url, response.headers["location"])
            if self.scope is not None and not self.scope(target):
                raise OffSite(f"redirected off the site to {target}")
            if target in seen:
                raise Redirects("redirect loop: " + " → ".join([*seen[seen.index(target):], target]))
            if check_robots and not self.allowed(target):
                raise RobotsDisallowed("redirected to a page disallowed by robots.txt")
            seen.append(target)
            url, form = target, (form if response.status in (307, 308) else None)
        raise Redirects(f"more than {self.max_redirects} redirects")

    def _once(self, url: str, headers: dict[str, str], form: dict[str, str] | None) -> Response:
        started = time.monotonic()
        try:
            with self.client.stream("POST" if form is not None else "GET", url, headers=headers, data=form) as resp:
                declared = resp.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > self.max_bytes:
                    raise TooLarge(f"larger than {self.max_bytes} bytes (Content-Length {declared})")
                if resp.status_code == 429 or resp.status_code >= 500:
                    raise _Retryable(f"HTTP {resp.status_code}", resp.headers.get("retry-after"), resp.status_code)
                if resp.status_code >= 400 and resp.status_code != 304:
                    raise HTTPStatus(resp.status_code)
                encodings = [e.strip().lower() for e in resp.headers.get("content-encoding", "").split(",")]
                body = _Bounded([e for e in encodings if e and e != "identity"], self.max_bytes)
                chunks, size = [], 0
                for chunk in resp.iter_raw():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise TooLarge(f"larger than {self.max_bytes} bytes")
                    if time.monotonic() - started > self.deadline:
                        raise TooSlow(f"slower than the {self.deadline:g} s deadline ({size} bytes received)")
                    chunks.append(body.feed(chunk))
                chunks.append(body.feed(b"", final=True))
                return Response(str(resp.url), resp.status_code, {k.lower(): v for k, v in resp.headers.items()},
                                b"".join(chunks))
        except httpx.TimeoutException:
            raise _Retryable("timed out") from None
        except httpx.RemoteProtocolError as exc:
            message = str(exc)
            if "incomplete" in message or "without sending complete message body" in message:
                raise Truncated(f"truncated: the connection closed before the whole body ({message})") from None
            raise _Retryable(f"connection cut: {message}") from None
        except httpx.TransportError as exc:
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

    def __init__(self, reason: str, retry_after: str | None = None, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retry_after, self.status = reason, retry_after, status
