"""retention: routes and rules (to be filled)."""
