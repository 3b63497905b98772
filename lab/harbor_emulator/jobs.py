"""Job runners and the cron scheduler (to be written)."""


def attach(emulator):
    pass
