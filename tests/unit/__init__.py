"""Unit tests: fast, in-process, no sockets."""
