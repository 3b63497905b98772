"""gc: routes and rules (to be filled)."""
