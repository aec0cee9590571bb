"""Cache writes of a mirror: in the request's transaction when it writes, else in one of
their own (a GET that fetched a page from upstream keeps it)."""

from __future__ import annotations


def write_in(storage, tx, apply):
    """Run ``apply(wtx)`` in the request's own transaction if it writes, else in a
    transaction of its own; return ``(apply's result, the serial that holds it)`` (the
    next serial for a request's transaction)."""
    if tx.write:
        return apply(tx), tx.at_serial + 1
    committed = [storage.last_serial()]
    with storage.transaction(write=True) as own:
        result = apply(own)
        own.on_commit(committed.append)
    return result, committed[-1]


def write_record(storage, tx, key: str, value) -> int:
    """Write (or, for None, delete) one record with :func:`write_in`; return its serial."""

    def apply(wtx) -> None:
        (wtx.delete(key) if value is None else wtx.set(key, value))

    return write_in(storage, tx, apply)[1]
