"""One path from a page's bytes to an article, which the crawl, `probe` and `ingest` all take: a
preview never disagrees with the crawl it previews, and a saved page fails as a fetched one does."""
from __future__ import annotations

from indexer.decode import DecodeError, decode_html
from indexer.extract import ExtractionError, Selectors, extract_article
from indexer.models import Article


def page_text(body: bytes, content_type: str = "") -> str:
    """The page's text (`content_type`: the Content-Type header, for its charset); DecodeError for
    bytes that are no text, such as binary data served as HTML."""
    if b"\x00" in body[:4096]:
        media = content_type.split(";")[0].strip().lower()
        raise DecodeError(f"binary data served as {media or 'an untyped page'}")
    return decode_html(body, content_type)


def page_to_article(body: bytes, content_type: str, url: str, source: str, selectors: Selectors | None = None,
                    tz: str = "Asia/Ho_Chi_Minh") -> Article:
    """The article a page holds; DecodeError when its bytes are no text, ExtractionError (with the
    reason) when it holds no article or its markup is nested too deeply to parse."""
    html = page_text(body, content_type)
    try:
        return extract_article(html, url, source, selectors, tz=tz)
    except RecursionError:
        raise ExtractionError("the page's markup is nested too deeply to parse") from None
