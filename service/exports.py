"""Following a search and taking it away: an Atom feed of each search (newest first) and a CSV export
for archivists, with the search page's filters. Bad parameters get the API's JSON errors."""
from __future__ import annotations

import csv
import html
import io
import re
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from flask import Blueprint, Response, current_app, request, url_for

from indexer.version.reader import SUMMARY_FIELDS
from service import engine
from service.params import link_args, parse_search_args
from service.search import MAX_RESULTS, Hit, SearchResult

bp = Blueprint("exports", __name__)

FEED_ENTRIES = 50
# The result's summary, then what the search found ("copies": the URLs of the same story published
# elsewhere, space-separated).
CSV_COLUMNS = (*SUMMARY_FIELDS, "article_page", "score", "snippet", "copies")
ATOM = "http://www.w3.org/2005/Atom"
_MARK = re.compile(r"</?mark>")
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def snippet_text(snippet: str) -> str:
    """The snippet as plain text: marks removed, entities decoded."""
    return html.unescape(_MARK.sub("", snippet))


def spreadsheet_safe(value: object) -> str:
    """A cell that no spreadsheet runs as a formula: a leading =, +, -, @ is quoted with '."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def public_link(endpoint: str, **values) -> str:
    """A link to one of our pages as readers reach it: under NEWSSEARCH_PUBLIC_URL when it is set,
    else relative to this site (a client's Host header is never written into a feed or an export)."""
    return current_app.config["SETTINGS"].public_url + url_for(endpoint, **values)


def xml_text(value: str) -> str:
    """Text without the characters XML 1.0 refuses (a feed that does not parse is no feed)."""
    return _XML_INVALID.sub("", value)


def _article_page(hit: Hit, query_text: str) -> str:
    return public_link("pages.article_page", article_id=hit.id, q=query_text, p=hit.passage_id)


def atom_feed(result: SearchResult, feed_url: str, page_url: str) -> bytes:
    """An Atom 1.0 document (RFC 4287) of the results, newest first."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")

    def add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", {k: xml_text(v) for k, v in attrs.items()})
        if text is not None:
            element.text = xml_text(text)
        return element

    newest = max((h.published_at for h in result.hits if h.published_at), default=None)
    # atom:id must be an absolute IRI: the feed's address, or a name derived from it when links are relative
    add(feed, "id", feed_url if "://" in feed_url else f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, feed_url)}")
    add(feed, "title", f"Tìm kiếm: {result.query.text}")
    add(feed, "updated", newest or datetime.now(UTC).replace(microsecond=0).isoformat())
    add(feed, "link", rel="self", type="application/atom+xml", href=feed_url)
    add(feed, "link", rel="alternate", type="text/html", href=page_url)
    add(add(feed, "author"), "name", "Tra cứu lưu trữ tin bài")
    for hit in result.hits:
        entry = add(feed, "entry")
        add(entry, "id", hit.url)
        add(entry, "title", hit.title)
        add(entry, "link", rel="alternate", type="text/html", href=_article_page(hit, result.query.text))
        add(entry, "link", rel="via", href=hit.url)
        if hit.published_at:
            add(entry, "published", hit.published_at)
        add(entry, "updated", hit.published_at or newest or datetime.now(UTC).replace(microsecond=0).isoformat())
        add(add(entry, "author"), "name", hit.source_title)
        if hit.category:
            add(entry, "category", term=hit.category)
        add(entry, "summary", snippet_text(hit.snippet))
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="utf-8")


@bp.get("/search.atom")
def search_feed():
    query = replace(parse_search_args(request.args), sort="date", page=1, per_page=FEED_ENTRIES)
    result = engine().search(query)
    args = link_args(request.args)
    body = atom_feed(result, public_link("exports.search_feed", **args), public_link("pages.search_page", **args))
    return Response(body, mimetype="application/atom+xml")


@bp.get("/search.csv")
def search_csv():
    """Every result (at most MAX_RESULTS), in the order asked for."""
    query = replace(parse_search_args(request.args), page=1, per_page=MAX_RESULTS)
    result = engine().search(query)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for hit in result.hits:
        row = (*hit.json().values(), _article_page(hit, query.text), hit.score, snippet_text(hit.snippet),
               " ".join(copy.url for copy in hit.copies))
        writer.writerow([spreadsheet_safe(value) for value in row])
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",  # the BOM lets Excel read UTF-8
                    headers={"Content-Disposition": 'attachment; filename="tim-kiem.csv"'})
