"""Retrieval: hybrid search, contract routing, article lookup and cited French answers."""
