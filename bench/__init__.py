"""Benchmarks and the retrieval-quality evaluation: figures, never tests (bench/README.md)."""
