"""Background parts of an emulator process: the Distribution registry and job runners.

attach() starts what the process needs; detach() stops it. Filled in by the registry,
replication and GC modules.
"""


def attach(emulator, start_registry=True):
    emulator.background = []


def detach(emulator):
    for stop in reversed(getattr(emulator, "background", [])):
        stop()
    emulator.background = []
