"""The README is held to the code: every setting, every subcommand and every exit code the code
has is in it, and it stays a page a user reads (at most 150 lines)."""
import re
from dataclasses import fields
from pathlib import Path

import pytest

from indexer import __main__ as cli
from indexer.config import Settings
from indexer.exits import ExitCode

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


SETTINGS_DOCS = README + (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")  # the Ray settings' table


def documented_defaults() -> dict[str, str]:
    """{variable: the default its table row gives} from the README's table and docs/operations.md's:
    `NAME` / `_OTHER` rows give two, `*(empty…)*` and a `<derived>` path are the empty default."""
    out = {}
    for names, default in re.findall(r"^\| (`NEWSSEARCH_[^|]+) \| ([^|]+) \|", SETTINGS_DOCS, re.M):
        found = re.findall(r"`(_?[A-Z0-9_]+\*?)`", names)
        values = [v.strip() for v in default.split(" / ")] if len(found) > 1 else [default.strip()]
        for name, value in zip(found, values, strict=True):
            full = name if name.startswith("NEWSSEARCH") else "NEWSSEARCH_" + found[0].split("_")[1] + name
            literal = re.match(r"`([^`]*)`", value)
            out[full] = "" if value.startswith("*(") or (literal and literal.group(1).startswith("<")) \
                else literal.group(1).removeprefix("./") if literal else value
    return out


def test_every_setting_is_documented_with_its_default():
    settings = {f.metadata["env"]: f.metadata for f in fields(Settings)}
    assert len(settings) > 20 and all(meta["help"] for meta in settings.values())
    documented = documented_defaults()
    prefixes = tuple(name.removesuffix("*") for name in documented if name.endswith("*"))
    in_readme = {name for name in settings if name in documented or name.startswith(prefixes)}
    assert set(settings) - in_readme == set()  # a setting the README does not name
    wrong = {name: (meta["default"], documented[name]) for name, meta in settings.items()
             if name in documented and documented[name] != meta["default"]}
    assert wrong == {}  # a README default that is not the code's
    assert set(documented) - set(settings) - {p + "*" for p in prefixes} == set()  # one the code does not read


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
