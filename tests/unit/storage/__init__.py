"""Unit tests of the storage backends."""
