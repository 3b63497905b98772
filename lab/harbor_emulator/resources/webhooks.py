"""webhooks: routes and rules (to be filled)."""
