"""Fixtures for every test directory: the local upstream index the mirror tests use."""

pytest_plugins = ["tests.upstream.fixtures"]
