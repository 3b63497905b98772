"""immutable: routes and rules (to be filled)."""
