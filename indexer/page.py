"""One path from a page's bytes to an article, which the crawl, `probe` and `ingest` all take: a
preview never disagrees with the crawl it previews, and a saved page fails as a fetched one does."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from indexer.decode import Decoded, DecodeError, decode_page
from indexer.extract import ExtractionError, NotAnArticle, Selectors, extract_article
from indexer.models import Article
from indexer.template import SiteTemplate


def page_text(body: bytes, content_type: str = "") -> Decoded:
    """The page's text (`content_type`: the Content-Type header, for its charset) and the bad bytes
    replaced to read it; DecodeError for bytes that are no text, such as binary data served as HTML."""
    if b"\x00" in body[:4096]:
        media = content_type.split(";")[0].strip().lower()
        raise DecodeError(f"binary data served as {media or 'an untyped page'}")
    return decode_page(body, content_type)


def learned_selectors(selectors: Selectors | None, paths: dict[str, str]) -> Selectors:
    """The source's selectors, with a learned path for each field they name none for."""
    selectors = selectors or Selectors()
    return replace(selectors, **{name: path for name, path in paths.items() if not getattr(selectors, name)})


def html_to_article(html: str, url: str, source: str, selectors: Selectors | None = None,
                    tz: str = "Asia/Ho_Chi_Minh", template: SiteTemplate | None = None,
                    misfit: Callable[[str], None] | None = None) -> Article:
    """The article a decoded page holds, read through its site's `template` (if any): the site's
    repeated blocks kept out, its fields taken where the site's pages hold them. Where the template
    leaves no article the page alone decides, and `misfit` hears why. ExtractionError (with the
    reason) when the page holds no article or its markup is nested too deeply to parse."""
    try:
        if template is not None and (template.boilerplate or template.fields):
            try:
                return extract_article(html, url, source, learned_selectors(selectors, template.fields), tz=tz,
                                       template=template)
            except NotAnArticle:
                raise
            except ExtractionError as exc:
                if misfit is not None:
                    misfit(str(exc))
        return extract_article(html, url, source, selectors, tz=tz)
    except RecursionError:
        raise ExtractionError("the page's markup is nested too deeply to parse") from None


def page_to_article(body: bytes, content_type: str, url: str, source: str, selectors: Selectors | None = None,
                    tz: str = "Asia/Ho_Chi_Minh") -> Article:
    """The article a page's bytes hold; DecodeError when they are no text, else as html_to_article."""
    return html_to_article(page_text(body, content_type).text, url, source, selectors, tz)
