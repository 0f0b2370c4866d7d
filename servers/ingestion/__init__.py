"""Ingestion: broker collectors, the aggregator, and the resumable tick stream."""
