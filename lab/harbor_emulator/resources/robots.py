"""robots: routes and rules (to be filled)."""
