"""Tasks other than top-K recommendation over a graph: their seed loops (sequential recommendation)."""
