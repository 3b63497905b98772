"""registries: routes and rules (to be filled)."""
