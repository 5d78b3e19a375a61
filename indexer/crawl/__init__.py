"""The crawler for district and provincial news portals: sources, fetching, discovery, the crawl.

Polite (robots.txt, per-host delay), bounded (deadlines, size and page limits), incremental
(conditional GET, content hashes) and never losing what is stored: see each module.
"""
from indexer.crawl.crawler import Crawler, CrawlReport, crawl_sources
from indexer.crawl.fetch import Fetcher, FetchError, Response
from indexer.crawl.sources import Source, SourcesError, load_sources, normalize_url

__all__ = ["CrawlReport", "Crawler", "FetchError", "Fetcher", "Response", "Source", "SourcesError",
           "crawl_sources", "load_sources", "normalize_url"]
