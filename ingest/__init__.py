"""Ingestion: load contracts, clean them, parse their articles, chunk, embed and index."""
