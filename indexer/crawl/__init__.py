"""The crawler for district and provincial news portals: sources, fetching, discovery, the crawl,
and the sink it hands pages to (the archive).

Polite (robots.txt, per-host delay), bounded (deadlines, size and page limits), incremental
(conditional GET, content hashes) and never losing what is stored: see each module.
"""
from indexer.crawl.crawler import Crawler, CrawlReport, crawl_sources
from indexer.crawl.fetch import Fetcher, FetchError, Response
from indexer.crawl.sink import ArchiveSink, Sink
from indexer.crawl.sources import Source, SourcesError, load_sources, normalize_url

__all__ = ["ArchiveSink", "CrawlReport", "Crawler", "FetchError", "Fetcher", "Response", "Sink", "Source",
           "SourcesError", "crawl_sources", "load_sources", "normalize_url"]
