"""The disk cache of derived resources: built once, reused for the same key, rebuilt for a new key or a broken file."""

from __future__ import annotations

import json

import pytest

from cell2text import cache
from cell2text.config import get_settings
from cell2text.knowledge import ontology as ontology_module


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CELL2TEXT_CACHE", str(tmp_path))
    return get_settings().cache_dir / "derived"


def test_built_once_per_key_and_rebuilt_when_the_key_or_the_file_changes(cache_dir):
    calls = []

    def build(value):
        calls.append(value)
        return {"value": value}

    assert cache.cached("thing", ["v1"], lambda: build(1)) == {"value": 1}
    assert cache.cached("thing", ["v1"], lambda: build(2)) == {"value": 1}  # read back, not built
    assert cache.cached("thing", ["v2"], lambda: build(3)) == {"value": 3}  # a new version: built again
    assert calls == [1, 3]
    for path in cache_dir.glob("thing-*.pkl"):
        path.write_bytes(b"not a pickle")  # a truncated or foreign file is replaced, not trusted
    assert cache.cached("thing", ["v1"], lambda: build(4)) == {"value": 4}
    assert cache.cached("thing", ["v1"], lambda: build(5)) == {"value": 4}
    assert calls == [1, 3, 4]


def test_the_digest_follows_module_source_and_file_bytes(tmp_path):
    data = tmp_path / "table.json"
    data.write_text(json.dumps({"a": 1}))
    before = cache.source_digest(ontology_module, data)
    assert cache.source_digest(ontology_module, data) == before
    data.write_text(json.dumps({"a": 2}))
    assert cache.source_digest(ontology_module, data) != before
    assert cache.source_digest(cache) != cache.source_digest(ontology_module)
