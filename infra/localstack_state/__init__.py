"""Durable state for the local cloud's LocalStack: an on-disk journal and the hooks that fill it."""
