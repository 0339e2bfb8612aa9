"""Stand-in resource plugins for the clouds whose real plugins cannot be built here (engine tests only)."""
