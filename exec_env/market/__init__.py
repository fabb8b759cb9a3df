"""Market data: the canonical in-memory form and every source that produces it."""
