"""Ranking is pure: service.search.rank (and the query it ranks) imports in a process where no
index library can load."""
import subprocess
import sys
import textwrap

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
        print(rank.fusion_for(parsed, "hybrid").weights == rank.SHORT_WEIGHTS, fused == {{}})
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]
