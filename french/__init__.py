"""French text analysis shared by ingest and retrieval: folding, tokens, lines, sentences.

The ground floor of the project: it imports nothing of ours.
"""
