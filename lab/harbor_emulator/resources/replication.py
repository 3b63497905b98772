"""replication: routes and rules (to be filled)."""
