"""The per-server commit hook and the construction of the trigger service."""

from __future__ import annotations

from cheesecellar import hookimpl
from cheesecellar.interfaces import IStorage
from cheesecellar_jenkins.journal import Journal
from cheesecellar_jenkins.payloads import ServerInfo
from cheesecellar_jenkins.payloads import server_url
from cheesecellar_jenkins.secret import SECRETFILE_SETTING
from cheesecellar_jenkins.secret import WebhookSecret
from cheesecellar_jenkins.service import TriggerOptions
from cheesecellar_jenkins.service import TriggerService


class CommitHook:
    """A plugin object of one server: hands each commit to that server's service."""

    def __init__(self, service: TriggerService) -> None:
        self.service = service

    @hookimpl
    def cellar_on_commit(self, serial: int, changes) -> None:
        self.service.on_commit(serial, changes)


def make_service(registry, options: TriggerOptions) -> TriggerService:
    settings = registry.cellar_settings
    server = ServerInfo(registry.cellar_nodeinfo.uuid, server_url(settings))
    secret = WebhookSecret(settings.plugin(SECRETFILE_SETTING), settings.serverdir)
    journal = Journal(settings.serverdir)
    return TriggerService(registry.getUtility(IStorage), server, journal, secret, options)
