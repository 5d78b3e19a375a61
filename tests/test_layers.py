"""Ranking is pure: service.search.rank (and the query it ranks) imports in a process where no
index library can load; the service, which only reads published versions, never reaches the
code that writes the archive or a version; and the archive's SQL is all in one package."""
import ast
import re
import subprocess
import sys
import textwrap
from pathlib import Path

BLOCKED = ("faiss", "tantivy", "datasketch", "torch", "sentence_transformers")


def test_ranking_imports_without_any_index_library():
    script = textwrap.dedent(f"""
        import importlib.abc, sys

        class Blocked(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in {BLOCKED!r}:
                    raise ImportError(f"{{name}} is not installed here")

        sys.meta_path.insert(0, Blocked())
        from service.search import rank
        from service.search.query import parse_query
        parsed = parse_query("bão lũ Nghệ An 2020")
        fused = rank.fuse([rank.CandidateList("exact", 1.0, [])])
        print(rank.DEFAULT.for_query(parsed, "hybrid").weights == rank.DEFAULT.short_weights, fused == {{}})
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]


# What writes the archive or a version: the read-only service must reach none of it, not even for a
# type hint (an import under TYPE_CHECKING counts: it is a dependency a reader of the code follows).
WRITE_PATH = ("indexer.store", "indexer.pipeline", "indexer.crawl", "indexer.nightly", "indexer.__main__",
              "indexer.version.writer", "indexer.version.lexical_writer", "indexer.version.vocabulary_writer",
              "indexer.transfer", "indexer.backup", "indexer.ingest_api", "indexer.replicate")
ROOT = Path(__file__).resolve().parent.parent


def _module_files() -> dict[str, Path]:
    files = {}
    for package in ("indexer", "service"):
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            files[name.removesuffix(".__init__")] = path
    return files


def _imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules one module imports anywhere in its text (functions included)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {module for module in found if module in known}


def _reached(start: list[str], known: dict[str, Path]) -> dict[str, str]:
    """Every project module the start modules reach, each with the module that first imported it."""
    parent: dict[str, str] = {}
    stack = [(module, "") for module in start]
    while stack:
        module, by = stack.pop()
        if module in parent:
            continue
        parent[module] = by
        stack.extend((imported, module) for imported in _imports(module, known[module], known))
    return parent


def _chain(parent: dict[str, str], module: str) -> str:
    links = [module]
    while parent[links[-1]]:
        links.append(parent[links[-1]])
    return " <- ".join(links)


def test_the_service_never_reaches_the_write_path():
    known = _module_files()
    writer_side = _reached(["indexer.pipeline"], known)  # the walk itself works: the writer reaches them
    assert "indexer.store" in writer_side and "indexer.version.lexical_writer" in writer_side
    reached = _reached([module for module in known if module.startswith("service")], known)
    crossing = [_chain(reached, module) for module in reached if module.startswith(WRITE_PATH)]
    assert not crossing, "the service reaches the write path:\n" + "\n".join(crossing)


def _statements(path: Path, pattern: re.Pattern) -> list[str]:
    """The string literals (f-strings' literal parts included) of a module that match `pattern`."""
    return [node.value for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and pattern.search(node.value)]


def test_every_archive_statement_lives_in_the_store_package():
    """SQL that names a table of the archive (schema.sql's) is in indexer/store/ and nowhere else in the
    indexer or the service: one place to read, change and migrate it. A version's vocabulary files
    have tables named as the archive's vocabulary tables: those two names are left out."""
    tables = set(re.findall(r"CREATE TABLE (\w+)", (ROOT / "indexer/store/schema.sql").read_text()))
    archive_only = tables - {"vocab_unigrams", "vocab_bigrams"}
    sql = re.compile(rf"\b(?:FROM|INTO|UPDATE|JOIN|TABLE)\s+(?:{'|'.join(sorted(archive_only))})\b")
    inside, outside = {}, {}
    for name, path in _module_files().items():
        found = _statements(path, sql)
        if found:
            (inside if name.startswith("indexer.store") else outside)[name] = found
    assert {"indexer.store.articles", "indexer.store.groups", "indexer.store.reads",
            "indexer.store.sources"} <= set(inside)  # the scan itself finds statements
    assert not outside, f"archive SQL outside indexer/store/: {outside}"
