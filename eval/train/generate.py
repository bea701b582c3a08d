"""Generate training questions for the `contractqa-fr` cross-encoder, with the local LLM.

    nice -n 10 python -m eval.train.generate --contracts data/train-contracts \\
        --out eval/train/data/questions.jsonl

For each training contract (never an eval corpus): parse it with our ingest, pick clauses, ask the
local LLM (1 thread) for a paraphrased question the clause answers and a neighbouring question it
does not answer, and take as hard negatives the top passages of our hybrid search in the same
contract that are not the clause's article. One JSON line per clause, appended as soon as it is
written: an interrupted run resumes where it stopped (clauses already in the file are skipped).
The settings of the generation (model sha256, prompt version, seed) are kept next to the data
(`<out>.settings.json`); a run with other settings on the same file is refused.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import openai
from langchain_core.exceptions import ModelError
from langchain_core.language_models import BaseChatModel

from eval.train.dataset import (
    CHUNK_TOKENS,
    DatasetError,
    contract_chunks,
    contracts_dir,
    read_records,
)
from eval.train.prompt import QuestionPrompt, Questions, word_overlap
from ingest.models import Chunk
from ingest.pipeline import expand, file_hash
from retrieval.retriever import HybridSearch

MIN_CLAUSE_CHARS = 200  # shorter passages are headings or one-liners: nothing to paraphrase
MAX_REPLY_TOKENS = 200  # two one-sentence questions in JSON take under 100 (1.5B Qwen, trial)
# The 1.5B on one shared thread took 9 to 40 s a clause (trial, 2026-12-03); 60 s timed out when
# tests ran alongside. A model error skips the clause (asked again on resume); this many in a
# row stop the run.
LLM_TIMEOUT_S = 600.0
MAX_ERRORS_IN_A_ROW = 5


@dataclass(frozen=True)
class GenerationConfig:
    per_contract: int = 15  # clauses asked about per contract (all of them when fewer)
    negatives: int = 3  # hard negatives kept per question
    seed: int = 0


class GenerationError(Exception):
    """The generation cannot run or resume; the message says how to fix it."""


def pick_clauses(chunks: list[Chunk], sha256: str, config: GenerationConfig) -> list[Chunk]:
    """The clauses of a contract asked about: article passages long enough, a seeded sample."""
    eligible = [c for c in chunks if c.article and len(c.text) >= MIN_CLAUSE_CHARS]
    rng = random.Random(f"{config.seed}:{sha256}")
    return rng.sample(eligible, min(config.per_contract, len(eligible)))


@dataclass(frozen=True)
class Negatives:
    ids: list[str]  # rebuilt passage ids of the hard negatives, best first
    clause_rank: int | None  # 1-based rank of the clause's article in the search (None: absent)


def hard_negatives(search: HybridSearch, document_id: str, question: str, clause: Chunk,
                   ids_by_text: dict[str, str], count: int) -> Negatives:
    """Our hybrid search's top passages for the question in the same contract, other than the
    clause's article (its other parts may answer too), as rebuilt passage ids; and where the
    clause itself ranked (a question our search already finds teaches the reranker less)."""
    found = search.search(question, count + 4, [document_id])
    ids: list[str] = []
    rank: int | None = None
    for position, scored in enumerate(found, start=1):
        chunk = scored.chunk
        if chunk.article == clause.article:
            rank = rank or position
            continue
        rebuilt = ids_by_text.get(chunk.indexed_text)
        if rebuilt is not None and rebuilt not in ids:
            ids.append(rebuilt)
    return Negatives(ids[:count], rank)


def record_id(sha256: str, chunk_id: str) -> str:
    return f"{sha256[:16]}:{chunk_id}"


@dataclass(frozen=True)
class Manifest:
    """The generation settings kept with the data set (`<out>.settings.json`)."""

    prompt_version: str
    model: str
    model_sha256: str
    seed: int
    per_contract: int
    negatives: int
    chunk_tokens: int
    embeddings: str
    threads: int

    def check_against(self, path: Path) -> None:
        if not path.is_file():
            return
        kept = json.loads(path.read_text(encoding="utf-8"))
        settings = {k: v for k, v in kept.items() if k != "contracts"}
        if settings != asdict(self):
            changed = sorted(k for k in settings if settings[k] != asdict(self).get(k))
            raise GenerationError(
                f"{path} a été généré avec d'autres réglages ({', '.join(changed)}) : écrivez "
                "dans un autre fichier (--out), ou reprenez avec les mêmes réglages.")

    def write(self, path: Path, contracts: dict[str, str]) -> None:
        kept: dict[str, str] = {}
        if path.is_file():
            kept = json.loads(path.read_text(encoding="utf-8")).get("contracts", {})
        data = {**asdict(self), "contracts": dict(sorted({**kept, **contracts}.items()))}
        tmp = path.with_name(path.name + ".tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)


def settings_path(out: Path) -> Path:
    return out.with_name(out.stem + ".settings.json")


@dataclass
class Progress:
    written: int = 0
    failed: int = 0
    skipped: int = 0
    errors: int = 0  # model errors: the clause is asked again on resume
    seconds: float = 0.0

    def rate(self) -> float:
        """Examples per hour in this run."""
        return self.written * 3600 / self.seconds if self.seconds else 0.0


def generate(files: Sequence[Path], search: HybridSearch, llm: BaseChatModel, out: Path,
             config: GenerationConfig, limit: int | None = None,
             log: bool = False) -> Progress:
    """Append one record per clause not yet in `out`; at most `limit` new ones (None: all).
    The files must be indexed in `search`'s store under their stem (our ingest's id)."""
    prompt = QuestionPrompt()
    model = llm.bind(response_format=prompt.response_format(), max_tokens=MAX_REPLY_TOKENS)
    errors_in_a_row = 0
    done = {str(r["id"]) for r in read_records(out)}
    records = search.store.records()
    progress = Progress()
    started = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", encoding="utf-8") as sink:
        for path in files:
            sha256 = file_hash(path)
            document_id = next((d for d, r in records.items() if r.file_hash == sha256), None)
            if document_id is None:
                raise GenerationError(f"{path} n'est pas indexé : relancez la génération, qui "
                                      "indexe d'abord les contrats du dossier.")
            chunks = contract_chunks(path)
            ids_by_text = {c.indexed_text: c.chunk_id for c in chunks}
            for clause in pick_clauses(chunks, sha256, config):
                rid = record_id(sha256, clause.chunk_id)
                if rid in done:
                    progress.skipped += 1
                    continue
                if limit is not None and progress.written + progress.failed >= limit:
                    progress.seconds = time.perf_counter() - started
                    return progress
                asked = time.perf_counter()
                try:
                    reply = str(model.invoke(prompt.messages(clause.text)).content)
                except (ModelError, openai.APIError) as exc:
                    errors_in_a_row += 1
                    progress.errors += 1
                    print(f"{path.name} {clause.article} : le modèle a échoué ({exc})",
                          file=sys.stderr, flush=True)
                    if errors_in_a_row >= MAX_ERRORS_IN_A_ROW:
                        raise GenerationError(
                            f"{errors_in_a_row} échecs du modèle de suite ({exc}) : vérifiez "
                            "le modèle local (`make llm`) puis relancez, la génération "
                            "reprendra où elle s'est arrêtée.") from exc
                    continue
                errors_in_a_row = 0
                parsed = prompt.parse(reply)
                base = {"id": rid, "contract_sha256": sha256, "contract": path.name,
                        "clause": clause.chunk_id, "article": clause.article,
                        "prompt_version": prompt.version,
                        "seconds": round(time.perf_counter() - asked, 1)}
                if isinstance(parsed, Questions):
                    negatives = hard_negatives(search, document_id, parsed.question, clause,
                                               ids_by_text, config.negatives)
                    record = {**base, "question": parsed.question,
                              "neighbour_question": parsed.neighbour,
                              "negatives": negatives.ids, "clause_rank": negatives.clause_rank,
                              "overlap": word_overlap(parsed.question, clause.text)}
                    progress.written += 1
                else:
                    record = {**base, "error": parsed, "reply": reply[:500]}
                    progress.failed += 1
                sink.write(json.dumps(record, ensure_ascii=False) + "\n")
                sink.flush()
                done.add(rid)
                progress.seconds = time.perf_counter() - started
                if log:
                    print(f"{path.name} {clause.article} : "
                          f"{record.get('question') or record.get('error')} "
                          f"({progress.written} écrites, {progress.rate():.0f}/h)",
                          file=sys.stderr, flush=True)
    progress.seconds = time.perf_counter() - started
    return progress


def main(argv: Sequence[str] | None = None) -> int:
    from contractqa.settings import Settings
    from contractqa.wiring import build_embedder, build_ingestor, llm_config, open_store
    from retrieval.gguf import sha256_of
    from retrieval.llm import LLMConfigError, build_llm
    from retrieval.local_llm import LocalModelError, resolve_model

    parser = argparse.ArgumentParser(prog="python -m eval.train.generate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contracts", type=Path, default=None,
                        help="dossier des contrats d'entraînement (défaut : "
                             "$CONTRACTQA_TRAIN_CONTRACTS ou data/train-contracts)")
    parser.add_argument("--out", type=Path, default=Path("eval/train/data/questions.jsonl"))
    parser.add_argument("--index", type=Path, default=Path("data/train-index"),
                        help="dossier de données où les contrats d'entraînement sont indexés "
                             "pour la recherche hybride (jamais celui de l'application)")
    parser.add_argument("--per-contract", type=int, default=GenerationConfig.per_contract)
    parser.add_argument("--negatives", type=int, default=GenerationConfig.negatives)
    parser.add_argument("--seed", type=int, default=GenerationConfig.seed)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--limit", type=int, default=None, help="au plus N clauses ce tour-ci")
    args = parser.parse_args(argv)
    config = GenerationConfig(args.per_contract, args.negatives, args.seed)
    settings = Settings()
    llm_settings = settings.model_copy(update={"llm_provider": "local",
                                               "llm_threads": args.threads,
                                               "llm_timeout_s": LLM_TIMEOUT_S})
    try:
        folder = contracts_dir(args.contracts)
        files = expand([folder])
        if not files:
            raise DatasetError(f"Aucun contrat dans {folder}.")
        model_file = resolve_model(llm_settings.llm_model_path, llm_settings.cache_dir)
        manifest = Manifest(QuestionPrompt().version, model_file.name, sha256_of(model_file),
                            config.seed, config.per_contract, config.negatives, CHUNK_TOKENS,
                            settings.embeddings, args.threads)
        manifest.check_against(settings_path(args.out))
        llm = build_llm(llm_config(llm_settings))
    except (DatasetError, GenerationError, LocalModelError, LLMConfigError) as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return 2
    assert llm is not None
    index_settings = settings.model_copy(update={"data_dir": args.index.resolve(),
                                                 "chunk_tokens": CHUNK_TOKENS})
    embedder = build_embedder(index_settings)
    store = open_store(index_settings)
    for result in build_ingestor(index_settings, store, embedder).ingest(files):
        if result.status == "error":
            print(f"Ignoré : {result.path} ({result.message})", file=sys.stderr)
    indexed = {r.file_hash for r in store.records().values()}
    files = [f for f in files if file_hash(f) in indexed]
    manifest.write(settings_path(args.out), {file_hash(f): f.name for f in files})
    search = HybridSearch(store, embedder, index_settings.cache_dir / "lexical")
    try:
        progress = generate(files, search, llm, args.out, config, args.limit, log=True)
    except GenerationError as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return 2
    print(f"{progress.written} questions écrites, {progress.failed} échecs, "
          f"{progress.skipped} déjà faites, {progress.rate():.0f} exemples/heure", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
