"""The archive's record of its sources: their names, the crawler's state (each URL's validators and
last outcome, each run's completeness report, each source's learned template), what each source
holds by month, and the ingest API's keys."""
from __future__ import annotations

import json
import sqlite3

from indexer.models import now_iso
from indexer.store.connection import transaction


def list_sources(conn: sqlite3.Connection) -> list[dict]:
    """Each source with its name (its key where none is known), articles and first and last day."""
    rows = conn.execute("""SELECT a.source, coalesce(t.title, a.source) AS title, count(*) AS articles,
                           min(a.published_day) AS first, max(a.published_day) AS last
                           FROM articles a LEFT JOIN source_titles t ON t.source = a.source
                           GROUP BY a.source ORDER BY a.source""")
    return [dict(r) for r in rows]


def set_source_title(conn: sqlite3.Connection, source: str, title: str | None, configured: bool) -> None:
    """Record a source's name: a configured one (sources.toml) wins over the name its pages give
    (og:site_name, the newest page's); a source whose configured name was removed gives way."""
    with transaction(conn):
        if configured and title:
            conn.execute("""INSERT INTO source_titles (source, title, configured) VALUES (?, ?, 1)
                            ON CONFLICT(source) DO UPDATE SET title = excluded.title, configured = 1""",
                         (source, title))
        elif configured:
            conn.execute("UPDATE source_titles SET configured = 0 WHERE source = ?", (source,))
        elif title:
            conn.execute("""INSERT INTO source_titles (source, title) VALUES (?, ?)
                            ON CONFLICT(source) DO UPDATE SET title = excluded.title
                            WHERE configured = 0 AND title != excluded.title""", (source, title))



def crawl_page(conn: sqlite3.Connection, url: str) -> sqlite3.Row | None:
    """What the crawler knows of a URL: validators for conditional GET and the last outcome."""
    return conn.execute("SELECT * FROM crawl_pages WHERE url = ?", (url,)).fetchone()


def record_crawl_page(conn: sqlite3.Connection, url: str, source: str, status: str, reason: str | None = None,
                      etag: str | None = None, last_modified: str | None = None, content_hash: str | None = None,
                      article_url: str | None = None) -> None:
    """The outcome of one fetch; validators and hashes not given keep their previous values."""
    with conn:
        conn.execute(
            """INSERT INTO crawl_pages (url, source, etag, last_modified, content_hash, status, reason,
               article_url, fetched_at) VALUES (?,?,?,?,?,?,?,?,?)
               ON CONFLICT(url) DO UPDATE SET source=excluded.source,
               etag=coalesce(excluded.etag, crawl_pages.etag),
               last_modified=coalesce(excluded.last_modified, crawl_pages.last_modified),
               content_hash=coalesce(excluded.content_hash, crawl_pages.content_hash),
               status=excluded.status, reason=excluded.reason,
               article_url=coalesce(excluded.article_url, crawl_pages.article_url),
               fetched_at=excluded.fetched_at""",
            (url, source, etag, last_modified, content_hash, status, reason, article_url, now_iso()))


def record_crawl_run(conn: sqlite3.Connection, source: str, started_at: str, report: dict) -> None:
    with conn:
        conn.execute("INSERT INTO crawl_runs (source, started_at, finished_at, report) VALUES (?,?,?,?)",
                     (source, started_at, now_iso(), json.dumps(report, ensure_ascii=False)))


def save_source_template(conn: sqlite3.Connection, source: str, template: dict) -> None:
    with conn:
        conn.execute("""INSERT INTO source_templates (source, template, learned_at) VALUES (?,?,?)
                        ON CONFLICT(source) DO UPDATE SET template=excluded.template, learned_at=excluded.learned_at""",
                     (source, json.dumps(template, ensure_ascii=False), now_iso()))


def source_template(conn: sqlite3.Connection, source: str) -> dict | None:
    """The template last learned for this source (as saved), or None."""
    row = conn.execute("SELECT template FROM source_templates WHERE source = ?", (source,)).fetchone()
    return json.loads(row[0]) if row else None


def last_crawl_runs(conn: sqlite3.Connection) -> dict[str, dict]:
    """The newest completeness report of each source."""
    rows = conn.execute("""SELECT source, report FROM crawl_runs WHERE id IN
                           (SELECT max(id) FROM crawl_runs GROUP BY source) ORDER BY source""")
    return {r["source"]: json.loads(r["report"]) for r in rows}


def source_months(conn: sqlite3.Connection, source: str) -> dict[str, int]:
    """Articles per publication month ("YYYY-MM") of one source."""
    rows = conn.execute("""SELECT substr(published_day, 1, 7) AS month, count(*) FROM articles
                           WHERE source = ? AND published_day IS NOT NULL GROUP BY month ORDER BY month""",
                        (source,))
    return {month: count for month, count in rows}


def source_days(conn: sqlite3.Connection, source: str) -> tuple[str | None, str | None]:
    """The first and last publication day of one source's articles."""
    row = conn.execute("SELECT min(published_day), max(published_day) FROM articles WHERE source = ?",
                       (source,)).fetchone()
    return row[0], row[1]


def add_ingest_key(conn: sqlite3.Connection, secret_hash: str, source: str | None, label: str) -> int:
    with conn:
        return conn.execute("INSERT INTO ingest_keys (secret_hash, source, label, created_at) VALUES (?, ?, ?, ?)",
                            (secret_hash, source, label, now_iso())).lastrowid


def ingest_key(conn: sqlite3.Connection, key_id: int) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM ingest_keys WHERE id = ?", (key_id,)).fetchone()


def ingest_keys(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute("SELECT id, source, label, created_at, revoked_at FROM ingest_keys ORDER BY id").fetchall()


def revoke_ingest_key(conn: sqlite3.Connection, key_id: int) -> bool:
    with conn:
        return conn.execute("UPDATE ingest_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                            (now_iso(), key_id)).rowcount == 1
