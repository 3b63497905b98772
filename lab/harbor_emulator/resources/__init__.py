"""Every Harbor resource the emulator serves; importing a module registers its routes.

One module per resource area, each holding its rules (models) and its HTTP handlers,
like moto's per-service models/responses. Routes are matched by werkzeug; order does not
matter except that more specific rules win automatically.
"""

from . import (  # noqa: F401
    system,
    users,
    projects,
    members,
    quotas,
    registries,
    replication,
    robots,
    retention,
    immutable,
    labels,
    webhooks,
    gc,
    auditlogs,
    artifacts,
    lab,
)
