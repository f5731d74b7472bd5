"""Metrics and plots computed from event logs. Not built yet: see the issues."""
