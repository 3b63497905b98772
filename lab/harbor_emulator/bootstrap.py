"""First start of an empty database: the admin user (id 1) and the public `library` project (id 1)."""

from .auth import Principal
from .store import Duplicate


def ensure(emulator):
    from .resources import projects, users

    try:
        with emulator.store.tx() as tx:
            if tx.get("user", 1) is not None:
                return
            admin = users.create_user(tx, "admin", emulator.settings.admin_password, "admin@example.com",
                                      "system admin", "admin user", sysadmin=True)
            projects.create_project(tx, "library", Principal(user=admin), {"public": "true"})
    except Duplicate:
        pass  # another emulator process sharing the database bootstrapped it first
