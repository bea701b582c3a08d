"""The one place that builds the store, embedder, ingestor and chain from `Settings`.

`ingest/` and `retrieval/` receive small configs and never read the app's settings; the
service, the eval and the benchmarks all build their parts here.
"""

from __future__ import annotations

from dataclasses import dataclass

from contractqa.settings import Settings
from ingest.embeddings import EmbeddingModel, get_embedding_model
from ingest.pipeline import IngestConfig, Ingestor
from ingest.store import ChunkStore, StoreConfig
from retrieval.chain import ChainConfig, JudgeConfig, QAChain, VerifierConfig
from retrieval.llm import LLMConfig, build_llm, model_label
from retrieval.rerank import get_reranker
from retrieval.retriever import HybridSearch, SearchConfig


def store_config(settings: Settings) -> StoreConfig:
    return StoreConfig(settings.chroma_dir, settings.collection, settings.chroma_url,
                       settings.cache_documents, settings.cache_passages)


def ingest_config(settings: Settings) -> IngestConfig:
    return IngestConfig(settings.chunk_tokens, settings.max_file_mb)


def build_embedder(settings: Settings, spec: str | None = None) -> EmbeddingModel:
    """The configured embedding backend (or `spec`), behind the data dir's vector cache."""
    return get_embedding_model(spec or settings.embeddings, settings.cache_dir)


def open_store(settings: Settings, embedder_name: str | None = None) -> ChunkStore:
    """The index of the configured embedder (or `embedder_name`'s own collection)."""
    return ChunkStore.open(store_config(settings), embedder_name or settings.embeddings)


def build_ingestor(settings: Settings, store: ChunkStore,
                   embedder: EmbeddingModel) -> Ingestor:
    return Ingestor(store, embedder, ingest_config(settings))


def llm_config(settings: Settings) -> LLMConfig:
    return LLMConfig(settings.llm_provider, settings.llm_model, settings.llm_base_url,
                     settings.llm_api_key, settings.llm_timeout_s, settings.llm_model_path,
                     settings.cache_dir, settings.llm_threads, settings.llm_context_size)


def judge_config(settings: Settings) -> JudgeConfig | None:
    """The judge's settings, or None when it is turned off (CONTRACTQA_LLM_JUDGE=false)."""
    if not settings.llm_judge:
        return None
    return JudgeConfig(settings.llm_judge_threshold, settings.llm_judge_passages,
                       settings.llm_judge_tokens, settings.llm_judge_sentences,
                       settings.llm_judge_unsupported_threshold)


def verifier_config(settings: Settings) -> VerifierConfig | None:
    """The verifier's settings, or None when it is off (CONTRACTQA_LLM_VERIFY=false)."""
    if not settings.llm_verify:
        return None
    return VerifierConfig(settings.llm_verify_threshold, settings.llm_verify_tokens,
                          settings.llm_verify_quotes)


def chain_config(settings: Settings, routing: bool = True) -> ChainConfig:
    return ChainConfig(settings.top_k, settings.abstain_threshold, settings.llm_context_tokens,
                       routing=routing, judge=judge_config(settings),
                       cached_postings=settings.cache_postings,
                       llm_excerpts=settings.llm_excerpts, verifier=verifier_config(settings))


def build_chain(settings: Settings, store: ChunkStore, embedder: EmbeddingModel,
                search_config: SearchConfig | None = None, lexical_name: str = "lexical",
                routing: bool = True, rerank: bool = True) -> QAChain:
    """The answer chain over `store`: hybrid search (its lexical cache in the data dir's cache
    as `lexical_name`), the configured reranker and chat model (none: extractive). The eval
    turns routing and reranking off to measure what they bring."""
    reranker = get_reranker(settings.reranker) if rerank else None
    search = HybridSearch(store, embedder, settings.cache_dir / lexical_name, search_config,
                          reranker)
    llm = build_llm(llm_config(settings))
    label = model_label(llm_config(settings)) if llm else None
    return QAChain(search, chain_config(settings, routing), llm, label)


@dataclass
class Parts:
    """What the service is made of."""

    embedder: EmbeddingModel
    store: ChunkStore
    ingestor: Ingestor


def build_parts(settings: Settings, embedder: EmbeddingModel | None = None) -> Parts:
    embedder = embedder or build_embedder(settings)
    store = open_store(settings)
    return Parts(embedder, store, build_ingestor(settings, store, embedder))
