"""auditlogs: routes and rules (to be filled)."""
