"""Benchmarks: each prints JSON; ``python -m bench`` runs them all (``--quick`` for a short run)."""
