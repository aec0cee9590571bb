"""Fixtures for every test directory: the local upstream index the mirror tests use, and
the per-module server and mirror index of the mirror tests."""

pytest_plugins = ["tests.upstream.fixtures", "tests.functional.mirrorkit"]
