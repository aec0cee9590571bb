"""Upload triggers: Jenkins jobs and signed webhooks, delivered after commit."""

from __future__ import annotations

from pathlib import Path

from cheesecellar import hookimpl
from cheesecellar.config import ConfigError
from cheesecellar.plugins import register_server_plugin
from cheesecellar_jenkins.ixconfig import INDEX_KEYS
from cheesecellar_jenkins.ixconfig import masking_present
from cheesecellar_jenkins.secret import SECRETFILE_SETTING
from cheesecellar_jenkins.service import TriggerOptions

#: The plugin name of the per-server commit hook (one per plugin manager).
COMMIT_HOOK = "cheesecellar_jenkins.commits"
DEFAULTS = TriggerOptions()


@hookimpl
def cellar_indexconfig_defaults(index_type):
    return INDEX_KEYS if index_type == "stage" else None


@hookimpl(trylast=True)
def cellar_register_index_types(registry):
    """Runs after the core registered ``stage``: mask the trigger URLs for readers."""
    stage = registry.get("stage")
    registry.update("stage", present=masking_present(stage.present))


@hookimpl
def cellar_add_options(parser):
    parser.add_argument(
        "--trigger-retries", type=int, default=DEFAULTS.retries, metavar="N",
        help="how often a failed Jenkins or webhook delivery is tried again "
        f"(default {DEFAULTS.retries}: {DEFAULTS.retries + 1} attempts in all)",
    )  # fmt: skip
    parser.add_argument(
        "--trigger-timeout", type=float, default=DEFAULTS.timeout, metavar="SECS",
        help="seconds a delivery attempt waits for the receiver to accept the connection "
        f"and to answer (default {DEFAULTS.timeout:g})",
    )  # fmt: skip
    parser.add_argument(
        "--trigger-retry-delay", type=float, default=DEFAULTS.retry_delay, metavar="SECS",
        help="seconds before the first retry of a delivery; each further retry waits twice "
        f"as long (default {DEFAULTS.retry_delay:g})",
    )  # fmt: skip
    parser.add_argument(
        "--trigger-threads", type=int, default=DEFAULTS.threads, metavar="N",
        help=f"threads that deliver triggers (default {DEFAULTS.threads})",
    )  # fmt: skip
    parser.add_argument(
        "--webhook-secretfile", type=Path, default=None, metavar="FILE",
        help="file with the key that signs webhook bodies (mode 0600, at least 32 bytes); "
        "default: .webhook-secret in the server directory, made on first use",
    )  # fmt: skip


def trigger_options(settings) -> TriggerOptions:
    return TriggerOptions(
        retries=settings.plugin("trigger_retries", DEFAULTS.retries),
        timeout=settings.plugin("trigger_timeout", DEFAULTS.timeout),
        retry_delay=settings.plugin("trigger_retry_delay", DEFAULTS.retry_delay),
        threads=settings.plugin("trigger_threads", DEFAULTS.threads),
    )


@hookimpl
def cellar_configure(settings):
    options = trigger_options(settings)
    if options.retries < 0:
        raise ConfigError("--trigger-retries must not be negative")
    if options.timeout <= 0 or options.retry_delay < 0:
        raise ConfigError("--trigger-timeout must be positive, --trigger-retry-delay not negative")
    if options.threads < 1:
        raise ConfigError("--trigger-threads must be at least 1")
    secretfile = settings.plugin(SECRETFILE_SETTING)
    if secretfile is not None:
        from cheesecellar.auth.secret import read_secret

        read_secret(Path(secretfile))  # refuse an unsafe file before starting


@hookimpl
def cellar_pyramid_configure(config):
    """Registers the commit hook while the app is built, before the event thread starts,
    so no commit passes unseen; a replica replays its primary's commits and sends nothing."""
    config.include("cheesecellar_jenkins.views")
    registry = config.registry
    if registry.cellar_settings.role == "replica":
        return
    from cheesecellar_jenkins.commits import CommitHook
    from cheesecellar_jenkins.commits import make_service

    registry.cellar_triggers = make_service(registry, trigger_options(registry.cellar_settings))
    register_server_plugin(registry.cellar_pm, COMMIT_HOOK, CommitHook(registry.cellar_triggers))


def _service(registry):
    return getattr(registry, "cellar_triggers", None)


@hookimpl
def cellar_startup(registry):
    service = _service(registry)
    if service is not None:
        service.start()


@hookimpl
def cellar_shutdown(registry):
    service = _service(registry)
    if service is not None:
        service.stop()


@hookimpl
def cellar_metrics(registry):
    service = _service(registry)
    return None if service is None else service.metrics()


@hookimpl
def cellar_status_info(registry):
    service = _service(registry)
    return None if service is None else service.status_messages()
