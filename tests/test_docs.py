"""The README is held to the code: every setting, every subcommand and every exit code the code
has is in it, and it stays a page a user reads (at most 150 lines)."""
import re
from pathlib import Path

import pytest

from indexer import __main__ as cli
from indexer.exits import ExitCode

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def documented_settings() -> tuple[set[str], set[str]]:
    """(names the README gives, prefixes it gives as NAME_*): `NEWSSEARCH_CHUNK_WORDS` /
    `_CHUNK_OVERLAP` names NEWSSEARCH_CHUNK_OVERLAP too."""
    names = set(re.findall(r"`(NEWSSEARCH_[A-Z0-9_]+)`", README))
    for first, second in re.findall(r"`(NEWSSEARCH_[A-Z0-9_]+)` / `(_[A-Z0-9_]+)`", README):
        names.add("NEWSSEARCH_" + first.split("_")[1] + second)
    return names, set(re.findall(r"`(NEWSSEARCH_[A-Z0-9_]+_)\*`", README))


def test_every_setting_is_documented():
    read = set(re.findall(r'"(NEWSSEARCH_[A-Z0-9_]+)"', (ROOT / "indexer" / "config.py").read_text()))
    names, prefixes = documented_settings()
    assert len(read) > 20
    assert {n for n in read if n not in names and not n.startswith(tuple(prefixes))} == set()


def test_every_subcommand_is_in_everyday_use(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    commands = set(re.search(r"\{([a-z,-]+)\}", capsys.readouterr().out).group(1).split(","))
    assert {"build", "nightly", "crawl", "update", "model", "pull", "import"} <= commands
    everyday = README[README.index("## Everyday use"):README.index("## Adding a portal")]
    # a command has its own line, or is named beside the one it pairs with (`restore DIR`, `keys create`)
    assert {c for c in commands if f"-m indexer {c}" not in everyday and f"`{c} " not in everyday} == set()


def test_every_exit_code_is_in_the_readme():
    start = README.index("Exit codes")
    said = README[start:README.index("\n\n", start)].replace("\n", " ")
    assert {code for code in ExitCode if not re.search(rf"(?:: |, ){code.value} [a-z]", said)} == set()
    assert "indexer/exits.py" in said


def test_the_readme_stays_a_page():
    assert len(README.splitlines()) <= 150
