"""Index versions: what the indexer writes and the service reads, and nothing else between them.

Layout (the contract the service and replicas read)::

    <data_dir>/index/CURRENT                     name of the published version (atomically replaced)
    <data_dir>/index/versions/<name>/manifest.json   every other file's size and SHA-256
    <data_dir>/index/versions/<name>/vectors/<segment>.faiss   FAISS segments, never written again
    <data_dir>/index/versions/<name>/lexical/    BM25 indexes and the stored fields pages show (lexical.py)
    <data_dir>/index/versions/<name>/vocabulary/ the words diacritics are restored from (vocabulary.py)

A version holds everything the service reads: the SQLite archive is the indexer's working store.
A version is served only whole: FAISS and the lexical indexes must hold the same passages.
Consecutive versions share files: a new version hard-links the previous one's FAISS segments,
lexical segments and vocabulary files, and writes only what is new (a segment of the added
passages; removed passages are listed in the manifest and skipped), so three kept versions cost
little more than one, and a replica pulls only the new files (indexer/replicate.py).

- `layout`: the names, the Manifest (manifest.json, typed), its checks and signature, CURRENT (both sides);
- `reader`: a published version loaded read-only (`ServedVersion`), all the service opens;
- `lexical`: a version's tantivy indexes read (`LexicalIndex`) and their schema;
- `writer` and `lexical_writer`: a new version written from the archive and published, pruned.

The service imports `layout`, `reader` and `lexical` only; tests/test_layers.py holds it to that.
"""
