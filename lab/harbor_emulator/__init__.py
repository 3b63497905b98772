"""LAB ONLY: a Harbor v2.15 API emulator for registryops.harbor's tests and demos.

It emulates what the collection touches, over a real CNCF Distribution registry. It is
not Harbor and must never serve production traffic.
"""
