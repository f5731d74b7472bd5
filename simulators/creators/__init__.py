"""Creator models (strategic, information-asymmetric). Not built yet: see the issues."""
