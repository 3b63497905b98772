"""artifacts: routes and rules (to be filled)."""
