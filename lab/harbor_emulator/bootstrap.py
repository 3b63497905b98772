"""First start of an empty database: the admin user (id 1) and the public `library` project (id 1).
Every start: bring documents an older emulator stored up to date."""

from .auth import Principal
from .store import Duplicate


def ensure(emulator):
    from .resources import projects, users

    with emulator.store.tx() as tx:
        adopt_project_robots(tx)
    try:
        with emulator.store.tx() as tx:
            if tx.get("user", 1) is not None:
                return
            admin = users.create_user(tx, "admin", emulator.settings.admin_password, "admin@example.com",
                                      "system admin", "admin user", sysadmin=True)
            projects.create_project(tx, "library", Principal(user=admin), {"public": "true"})
    except Duplicate:
        pass  # another emulator process sharing the database bootstrapped it first


def adopt_project_robots(tx):
    """Project robots are stored under their project (robots are listed per project); emulators
    before that stored every robot at the top (parent 0)."""
    for robot in tx.list("robot", parent=0):
        if robot.get("level") == "project" and robot.get("project_id"):
            tx.execute("UPDATE objects SET parent = ? WHERE kind = ? AND id = ?",
                       (robot["project_id"], "robot", robot.oid))
