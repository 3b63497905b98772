"""The Distribution registry behind the emulator (to be written: start/stop, client, /v2 proxy)."""


def attach(emulator, start_registry):
    emulator.registry = None
