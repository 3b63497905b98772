"""Integration fixtures: a fresh emulator per test, reached by real ansible-playbook runs."""

import pytest

from ..conftest import harbor, admin  # noqa: F401  (re-exported fixtures)
