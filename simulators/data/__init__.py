"""Loaders and fitting from real logs (MovieLens, Open Bandit Dataset). Not built yet: see the issues."""
