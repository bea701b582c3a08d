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


def store_config(settings: Settings) -> StoreConfig:
    return StoreConfig(settings.chroma_dir, settings.collection, settings.chroma_url)


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
