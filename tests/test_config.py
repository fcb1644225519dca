"""Settings come from CELL2TEXT_* environment variables, with sane defaults."""

from __future__ import annotations

from pathlib import Path

from cell2text.config import Settings, get_settings


def test_defaults(monkeypatch):
    for name in ("CELL2TEXT_CACHE", "CELL2TEXT_DEVICE", "CELL2TEXT_OFFLINE", "CELL2TEXT_LM"):
        monkeypatch.delenv(name, raising=False)
    settings = get_settings()
    assert settings.cache_dir == Settings().cache_dir
    assert "cell2text" in str(settings.cache_dir)
    assert settings.device == "auto" and settings.offline is True and settings.lm_path is None


def test_environment_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("CELL2TEXT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CELL2TEXT_DEVICE", "cpu")
    monkeypatch.setenv("CELL2TEXT_OFFLINE", "0")
    monkeypatch.setenv("CELL2TEXT_LM", "/models/lm")
    settings = get_settings()
    assert settings.cache_dir == tmp_path / "cache"
    assert settings.device == "cpu" and settings.offline is False and settings.lm_path == "/models/lm"
    path = settings.cache_path("pagerank", "x.npz")
    assert path.parent.is_dir() and path.parent == Path(tmp_path / "cache" / "pagerank")
