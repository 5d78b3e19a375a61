"""Articles in as data (NDJSON, JSON arrays, CSV) and out again (export), through indexer.transfer
and the CLI: every record checked before one is stored, errors named by file, line and field."""
import csv
import gzip
import io
import json
import os
import random

import pytest

from indexer import models, store, text, transfer
from indexer.__main__ import main

RECORDS = [
    {"url": "https://tin.example.vn/a", "tieu_de": "Phòng chống thiên tai năm 2021", "sapo": "Huyện triển khai.",
     "body": "<p>Ban Chỉ huy họp <b>sáng</b> nay.</p><p>Các xã rà soát phương án.<br>Kiểm tra hồ đập.</p>",
     "published_at": "Thứ Hai, 25/01/2021 14:30", "author": "Minh Châu", "category": "Thiên tai"},
    {"url": "https://tin.example.vn/b", "tieu_de": "Bầu cử đại biểu Quốc hội", "sapo": "",
     "body": "Cử tri xã Minh Hòa đi bầu cử từ sáng sớm.\r\n\r\nTổ bầu cử mang hòm phiếu phụ.",
     "published_at": "2021-05-23T07:00:00+07:00"},
    {"url": "https://tin.example.vn/c", "tieu_de": "Lũ quét ở Hà Giang", "body": "Mưa lớn gây lũ quét tại huyện "
     "Hoàng Su Phì, tỉnh Hà Giang.", "published_at": "2024-09-10", "province": "Hà Giang", "source": "hagiang"},
]
MAP = {"tieu_de": "title", "sapo": "summary"}


def stored(conn):
    return {r["url"]: dict(r) for r in conn.execute("SELECT * FROM articles")}


def write(path, rows, kind):
    if kind == "ndjson":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    elif kind == "json":  # pretty-printed: objects over many lines
        path.write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")
    elif kind == "gz":
        path.write_bytes(gzip.compress("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()))
    else:  # Excel's "CSV UTF-8": a byte order mark, CRLF line ends, quoted cells with line breaks
        out = io.StringIO()
        columns = sorted({key for r in rows for key in r})
        writer = csv.DictWriter(out, columns, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
        path.write_bytes(b"\xef\xbb\xbf" + out.getvalue().encode())


@pytest.mark.parametrize(("kind", "name"), [("ndjson", "a.ndjson"), ("json", "a.json"), ("csv", "a.csv"),
                                            ("gz", "a.jsonl.gz")])
def test_each_format_imports_every_field(tmp_path, kind, name):
    path = tmp_path / name
    write(path, RECORDS, kind)
    conn = store.connect(tmp_path / "archive.sqlite3")
    report = transfer.import_files(conn, [path], transfer.Options(MAP))
    assert report.counts["new"] == 3 and not report.errors
    rows = stored(conn)
    a = rows["https://tin.example.vn/a"]
    assert a["title"] == "Phòng chống thiên tai năm 2021" and a["summary"] == "Huyện triển khai."
    assert a["body"] == "Ban Chỉ huy họp sáng nay.\n\nCác xã rà soát phương án.\n\nKiểm tra hồ đập."  # HTML read
    assert a["published_at"] == "2021-01-25T14:30:00+07:00" and a["author"] == "Minh Châu"
    assert a["source"] == "tin.example.vn" and a["category"] == "Thiên tai"
    b = rows["https://tin.example.vn/b"]
    assert b["published_at"] == "2021-05-23T07:00:00+07:00"
    assert b["body"] == "Cử tri xã Minh Hòa đi bầu cử từ sáng sớm.\n\nTổ bầu cử mang hòm phiếu phụ."  # a CSV cell's lines
    c = rows["https://tin.example.vn/c"]
    assert c["source"] == "hagiang" and c["published_at"] == "2024-09-10T00:00:00+07:00"
    places = {r[0] for r in conn.execute("SELECT place FROM article_places WHERE article_id = ?", (c["id"],))}
    assert "o/tinhhagiang" in places  # a place of the record's province, before 2025


def test_importing_again_stores_nothing_and_a_changed_record_is_updated(tmp_path):
    path = tmp_path / "a.ndjson"
    write(path, RECORDS, "ndjson")
    conn = store.connect(tmp_path / "archive.sqlite3")
    transfer.import_files(conn, [path], transfer.Options(MAP))
    assert transfer.import_files(conn, [path], transfer.Options(MAP)).counts == {"unchanged": 3}
    write(path, [{**RECORDS[1], "tieu_de": "Bầu cử đại biểu Quốc hội khóa XV"}], "ndjson")
    assert transfer.import_files(conn, [path], transfer.Options(MAP)).counts == {"updated": 1}
    assert stored(conn)["https://tin.example.vn/b"]["title"] == "Bầu cử đại biểu Quốc hội khóa XV"
    # two articles changed in one batch: the vocabulary, their old words taken away and the new
    # added, summed over the batch, is what counting the archive afresh gives
    write(path, [{**RECORDS[0], "body": "Lũ quét ở xã vùng cao."}, {**RECORDS[2], "body": "Mưa lớn ở Hà Giang."}],
          "ndjson")
    assert transfer.import_files(conn, [path], transfer.Options(MAP)).counts == {"updated": 2}
    vocabulary = "SELECT * FROM vocab_unigrams UNION ALL SELECT * FROM vocab_bigrams ORDER BY 1, 2"
    counted = [tuple(r) for r in conn.execute(vocabulary)]
    store.recount_vocabulary(conn)
    assert counted == [tuple(r) for r in conn.execute(vocabulary)]


def test_records_with_an_id_live_at_the_base_url(tmp_path):
    """The shape of a CMS dump without addresses (baomoi's: id, title, sapo, body)."""
    path = tmp_path / "dump.jsonl"
    write(path, [{"id": "21395276", "title": "Kết quả xổ số", "sapo": "Tóm tắt.", "body": "Nội dung."}], "ndjson")
    conn = store.connect(tmp_path / "archive.sqlite3")
    transfer.import_files(conn, [path], transfer.Options({"sapo": "summary"}, "https://baomoi.example.vn/"))
    (row,) = stored(conn).values()
    assert row["url"] == "https://baomoi.example.vn/21395276" and row["summary"] == "Tóm tắt."
    report = transfer.import_files(conn, [path], transfer.Options())  # without the base URL: no address
    assert report.errors == ["dump.jsonl, line 1: url: missing: give url, or id with --base-url"]


def test_a_file_with_an_error_stores_nothing_and_names_each_error(tmp_path, monkeypatch, capsys):
    path = tmp_path / "a.ndjson"
    bad = [RECORDS[0], {**RECORDS[1], "published_at": "31/02/2021"}, {"url": "ftp://x/1", "title": "t", "body": "b"}]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in bad) + "{not json\n", encoding="utf-8")
    monkeypatch.setenv("NEWSSEARCH_DATA_DIR", str(tmp_path / "data"))
    assert main(["import", str(path), "--map", "tieu_de=title"]) == 2
    err = capsys.readouterr().err
    assert "a.ndjson, line 2: published_at: '31/02/2021' is not a date" in err
    assert "a.ndjson, line 3: url: 'ftp://x/1' is not an http(s) URL" in err
    assert "a.ndjson, line 4: not JSON" in err and "nothing stored" in err
    conn = store.connect(tmp_path / "data" / "archive.sqlite3")
    assert stored(conn) == {}
    assert main(["import", str(path), "--map", "tieu_de=title", "--skip-invalid"]) == 0
    assert list(stored(conn)) == ["https://tin.example.vn/a"]
    rejects = [json.loads(line) for line in (tmp_path / "a.ndjson.rejects.ndjson").read_text().splitlines()]
    assert [(r["line"], r["field"]) for r in rejects] == [(2, "published_at"), (3, "url"), (4, "")]
    assert rejects[0]["record"]["published_at"] == "31/02/2021"
    with pytest.raises(SystemExit):
        main(["import", str(path), "--map", "tieu_de=tieude"])  # no such field


def broken(rng: random.Random, i: int) -> tuple[str, bool]:
    """One NDJSON line, valid or broken in one of the ways real dumps are: (line, valid)."""
    record = {"url": f"https://tin.example.vn/{i}", "title": f"Tin số {i}", "body": f"Nội dung bài {i}. " * 3,
              "published_at": "2021-03-01"}
    kind = rng.choice(["valid"] * 4 + ["json", "type", "empty", "huge", "nul", "date", "duplicate", "array"])
    if kind == "json":
        return json.dumps(record)[:-3], False
    if kind == "type":
        record[rng.choice(["title", "body", "url"])] = rng.choice([["a"], {"b": 1}, True])
    elif kind == "empty":
        record["body"] = rng.choice(["", "   ", "<p> </p>"])
    elif kind == "huge":
        record["body"] = "x" * 10_000_001
    elif kind == "nul":
        record[rng.choice(["title", "body"])] += "\x00"
    elif kind == "date":
        record["published_at"] = rng.choice(["31/02/2021", "hôm qua", "1875-01-01", "2021-13-01"])
    elif kind == "duplicate":
        record["url"] = "https://tin.example.vn/0"
    elif kind == "array":
        return json.dumps([record]), False
    return json.dumps(record, ensure_ascii=False), kind == "valid"


def test_a_fuzzed_file_stores_only_its_valid_records_and_reports_every_other_line(tmp_path):
    rng = random.Random(7)
    lines = [(json.dumps({"url": "https://tin.example.vn/0", "title": "Tin đầu", "body": "Bài đầu tiên."}), True)]
    lines += [broken(rng, i) for i in range(1, 240)]
    path = tmp_path / "fuzz.ndjson"
    path.write_text("\n".join(line for line, _ in lines) + "\n", encoding="utf-8")
    valid = {n for n, (_, ok) in enumerate(lines, 1) if ok}
    conn = store.connect(tmp_path / "archive.sqlite3")
    assert transfer.import_files(conn, [path], transfer.Options()).counts == {"invalid": len(lines) - len(valid)}
    assert stored(conn) == {}  # one invalid line: nothing stored
    report = transfer.import_files(conn, [path], transfer.Options(), skip_invalid=True, rejects=tmp_path / "r.ndjson")
    assert report.counts == {"new": len(valid), "invalid": len(lines) - len(valid)}
    rejected = {json.loads(line)["line"] for line in (tmp_path / "r.ndjson").read_text().splitlines()}
    assert rejected == set(range(1, len(lines) + 1)) - valid  # every other line, by its number
    rows = stored(conn)
    assert len(rows) == len(valid) and all(r["body"] and "\x00" not in r["body"] + r["title"] for r in rows.values())
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_export_then_import_gives_the_archive_back(tmp_path, monkeypatch, capsys):
    first = tmp_path / "first"
    first.mkdir()
    path = tmp_path / "in.csv"
    write(path, RECORDS, "csv")
    monkeypatch.setenv("NEWSSEARCH_DATA_DIR", str(first))
    assert main(["import", str(path), "--map", "tieu_de=title", "--map", "sapo=summary"]) == 0
    assert main(["export", "--output", str(tmp_path / "out.ndjson")]) == 0
    capsys.readouterr()
    assert main(["export", "--source", "hagiang", "--from", "2024-01-01"]) == 0
    assert [json.loads(line)["url"] for line in capsys.readouterr().out.splitlines()] == ["https://tin.example.vn/c"]
    monkeypatch.setenv("NEWSSEARCH_DATA_DIR", str(tmp_path / "second"))
    assert main(["import", str(tmp_path / "out.ndjson")]) == 0
    columns = "url, source, title, summary, body, author, published_at, published_day, category, content_hash"
    before = store.connect(first / "archive.sqlite3").execute(f"SELECT {columns} FROM articles ORDER BY url")
    after = store.connect(tmp_path / "second" / "archive.sqlite3").execute(f"SELECT {columns} FROM articles ORDER BY url")
    assert [tuple(r) for r in before] == [tuple(r) for r in after]


ARCHIVE_TABLES = {"articles": "url, source, title, summary, body, author, published_at, category, content_hash",
                  "passages": "article_id, ordinal, start, end, text, content_hash",
                  "passage_words": "*", "vocab_unigrams": "*", "vocab_bigrams": "*", "article_places": "*",
                  "article_bands": "*", "duplicate_pairs": "*", "article_groups": "*"}


def archive_rows(conn):
    return {table: sorted(tuple(r) for r in conn.execute(f"SELECT {columns} FROM {table}"))
            for table, columns in ARCHIVE_TABLES.items()}


def counted_afresh(conn):
    """The vocabulary as counting every stored passage and title again gives it."""
    conn.execute("SAVEPOINT recount")
    store.recount_vocabulary(conn)
    rows = archive_rows(conn)
    conn.execute("ROLLBACK TO recount")
    conn.execute("RELEASE recount")
    return rows["vocab_unigrams"], rows["vocab_bigrams"]


def varied_records(rng: random.Random, count: int) -> list[str]:
    words = text.words("Huyện Anh Sơn tỉnh Nghệ An triển khai phòng chống thiên tai năm 2021 xã Minh Hòa bầu cử "
                       "Quốc hội lũ quét Hà Giang cử tri hồ đập kiểm tra phương án Thủy lợi khoẻ")
    story = " ".join(rng.choice(words) for _ in range(120))  # republished twice below: a near-duplicate group
    lines = []
    for i in range(count):
        body = story + f" Bài {i}." if i % 9 == 0 else " ".join(rng.choice(words) for _ in range(rng.randint(8, 300)))
        record = {"url": f"https://tin.example.vn/{i}", "title": " ".join(rng.choices(words, k=6)), "body": body,
                  "published_at": f"2021-0{1 + i % 9}-1{i % 10}", "province": rng.choice(["Nghệ An", "Hà Giang"])}
        if i % 13 == 5:
            record["published_at"] = "31/02/2021"  # invalid
        if i % 17 == 3:
            record["url"] = "https://tin.example.vn/1"  # given again
        lines.append(json.dumps(record, ensure_ascii=False))
    return lines


def test_worker_processes_store_what_one_process_stores(tmp_path, monkeypatch):
    """Records checked and prepared by worker processes, slices of them stored a transaction each,
    the vocabulary counted a slice at once by the workers: the archive, the counts and the reject
    file are what one process storing each record alone gives, through repeated addresses,
    invalid records, a second import (unchanged), a third (changed records) and a failed one."""
    monkeypatch.setattr(transfer, "WORK_SLICE", 7)  # many slices, each its own transaction
    path = tmp_path / "in.ndjson"
    rng = random.Random(3)
    path.write_text("\n".join(varied_records(rng, 60)) + "\n", encoding="utf-8")
    archives = {}
    for workers in (0, 2):
        conn = store.connect(tmp_path / f"{workers}.sqlite3")
        report = transfer.import_files(conn, [path], transfer.Options(), skip_invalid=True,
                                       rejects=tmp_path / f"{workers}.rejects", workers=workers)
        archives[workers] = (conn, report.counts, (tmp_path / f"{workers}.rejects").read_text())
    (one, counts, rejects), (many, counts_many, rejects_many) = archives[0], archives[2]
    assert counts == counts_many and counts["new"] > 40 and counts["invalid"] > 5 and rejects == rejects_many
    assert archive_rows(one) == archive_rows(many)
    assert archive_rows(many)["article_groups"]  # the republished story was grouped
    assert counted_afresh(many) == (archive_rows(many)["vocab_unigrams"], archive_rows(many)["vocab_bigrams"])

    again = transfer.import_files(many, [path], transfer.Options(), skip_invalid=True, workers=2)
    assert again.counts == {"unchanged": counts["new"], "invalid": counts["invalid"]}
    lines = varied_records(random.Random(3), 60)
    changed = [line.replace("Huyện", "Thị xã") if n % 2 else line for n, line in enumerate(lines)]
    path.write_text("\n".join(changed) + "\n", encoding="utf-8")
    third = transfer.import_files(many, [path], transfer.Options(), skip_invalid=True, workers=2)
    assert third.counts["updated"] > 10
    assert counted_afresh(many) == (archive_rows(many)["vocab_unigrams"], archive_rows(many)["vocab_bigrams"])

    # an address another source owns stops the import in its slice: what was stored stays, counted
    failing = store.connect(tmp_path / "failing.sqlite3")
    store.upsert_article(failing, models.Article(url="https://tin.example.vn/30", source="other", body="Bài khác."))
    with pytest.raises(models.ForeignArticle):
        transfer.import_files(failing, [path], transfer.Options(), skip_invalid=True, workers=2)
    assert 20 < len(stored(failing)) < 40
    assert counted_afresh(failing) == (archive_rows(failing)["vocab_unigrams"], archive_rows(failing)["vocab_bigrams"])


def test_a_worker_that_dies_stops_the_import_with_a_message_and_keeps_what_was_stored(tmp_path, monkeypatch, capsys):
    """A worker killed mid-import (here: it exits while preparing record 40) ends the import with
    exit 2 and a message, never a hang nor a traceback; the slices stored before it stay, and
    importing again goes on from there."""
    monkeypatch.setattr(transfer, "WORK_SLICE", 7)
    path = tmp_path / "in.ndjson"
    lines = [line for line in varied_records(random.Random(5), 60) if '"31/02/2021"' not in line
             and '"https://tin.example.vn/1"' not in line[:40]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    real = transfer.prepare.prepare

    def dying(article, *rest):
        if article.url.endswith("/40"):
            os._exit(9)  # as the kernel's OOM killer would end it
        return real(article, *rest)

    monkeypatch.setattr(transfer.prepare, "prepare", dying)  # the workers are forked: they inherit it
    monkeypatch.setenv("NEWSSEARCH_DATA_DIR", str(tmp_path / "data"))
    assert main(["import", str(path), "--workers", "2"]) == 2
    assert "a worker process died" in capsys.readouterr().err
    conn = store.connect(tmp_path / "data" / "archive.sqlite3")
    kept = stored(conn)
    assert kept and "https://tin.example.vn/40" not in kept
    monkeypatch.setattr(transfer.prepare, "prepare", real)
    assert main(["import", str(path), "--workers", "2"]) == 0
    assert len(stored(conn)) == len(lines) > len(kept)
    assert counted_afresh(conn) == (archive_rows(conn)["vocab_unigrams"], archive_rows(conn)["vocab_bigrams"])
