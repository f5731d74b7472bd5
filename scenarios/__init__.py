"""Scenario specs, the runner and the built-in scenarios. Not built yet: see the issues;
until then ``recarena demo`` (``make run``) runs the quickstart comparison."""
