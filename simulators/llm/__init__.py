"""LLM-driven users and creators and their backend. Not built yet: see the issues."""
