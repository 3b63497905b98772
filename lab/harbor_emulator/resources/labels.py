"""labels: routes and rules (to be filled)."""
