"""Answering retrieval queries from pushed SavedModels: a TF Serving-compatible
server, its client, and in-process loading."""
