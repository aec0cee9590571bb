"""Primary/replica replication: a replica follows its primary's changelog and files."""

from __future__ import annotations

from cheesecellar import hookimpl
from cheesecellar.config import ConfigError


@hookimpl
def cellar_add_options(parser):
    parser.add_argument(
        "--replica-poll-wait",
        type=float,
        default=20.0,
        help="seconds a replica's request for changes waits on the primary for a new serial",
    )
    parser.add_argument(
        "--replica-file-threads",
        type=int,
        default=4,
        help="threads of a replica that fetch new files from the primary",
    )


@hookimpl
def cellar_pyramid_configure(config):
    from pyramid.tweens import EXCVIEW

    from cheesecellar.storage import BlobPending
    from cheesecellar_replica.views import blob_pending

    config.add_route("replica.changes", "/+replica/changes")
    config.add_route("replica.blob", "/+replica/blob/{relpath:.+}")
    config.scan("cheesecellar_replica.primary")
    config.add_exception_view(blob_pending, context=BlobPending)
    # On a replica, writes go to the primary before any transaction opens here.
    config.add_tween(
        "cheesecellar_replica.relay.relay_tween_factory",
        under=EXCVIEW,
        over="cheesecellar.tweens.transaction_tween_factory",
    )
    # On a primary, a replica's read learns the serial that holds what it fetched.
    config.add_tween("cheesecellar_replica.readthrough.latest_serial_tween_factory", over=EXCVIEW)


@hookimpl(trylast=True)
def cellar_startup(registry):
    """Runs after the other plugins' start-up, so that their services exist."""
    settings = registry.cellar_settings
    if settings.role == "standalone":
        return
    if settings.secretfile is None:
        raise ConfigError(
            f"--role {settings.role} needs --secretfile FILE, the secret shared by the "
            "primary and its replicas (make one with 'cellar gen-secret --secretfile FILE')"
        )
    from cheesecellar.auth.secret import read_secret

    secret = read_secret(settings.secretfile)
    if settings.role == "primary":
        from cheesecellar_replica.primary import PrimaryService

        registry.cellar_replication = PrimaryService(secret)
        return
    from cheesecellar_replica.replica import ReplicaService

    service = ReplicaService(registry, secret)
    registry.cellar_replication = service
    mirror = getattr(registry, "cellar_mirror", None)
    if mirror is not None:
        from cheesecellar.interfaces import IIndexTypes

        service.route_mirrors(registry.getUtility(IIndexTypes), mirror)
    service.start()


@hookimpl
def cellar_shutdown(registry):
    service = getattr(registry, "cellar_replication", None)
    if service is not None:
        service.stop()


@hookimpl
def cellar_status_info(registry):
    service = getattr(registry, "cellar_replication", None)
    return None if service is None else service.status_messages()


@hookimpl
def cellar_metrics(registry):
    service = getattr(registry, "cellar_replication", None)
    return None if service is None else service.metrics()
