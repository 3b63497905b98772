"""Background parts of an emulator process.

attach() starts them, detach() stops them (in reverse order):
- distribution.attach: the CNCF Distribution registry (own process, or --registry-url), sets emulator.registry
- jobs.attach: job runners and the cron scheduler (replication, GC, audit-log purge)
Each attach appends its stop callables to emulator.background.
"""


def attach(emulator, start_registry=True):
    from . import distribution, jobs

    emulator.background = []
    distribution.attach(emulator, start_registry)
    jobs.attach(emulator)


def detach(emulator):
    for stop in reversed(getattr(emulator, "background", [])):
        try:
            stop()
        except Exception:  # stopping is best effort; one failure must not leave the rest running
            pass
    emulator.background = []
