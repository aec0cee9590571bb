"""The WSGI application factory."""

from __future__ import annotations

from pyramid.config import Configurator
from pyramid.decorator import reify
from pyramid.request import Request
from pyramid.tweens import EXCVIEW

from cheesecellar.accesslog import AccessLogMiddleware
from cheesecellar.accesslog import open_access_log
from cheesecellar.auth.policy import CellarSecurityPolicy
from cheesecellar.auth.tokens import TokenSigner
from cheesecellar.config import Settings
from cheesecellar.interfaces import IIndexTypes
from cheesecellar.interfaces import ISimplePages
from cheesecellar.interfaces import IStorage
from cheesecellar.interfaces import ITokenSigner
from cheesecellar.model.indextypes import IndexTypeRegistry
from cheesecellar.outside import OutsideURLMiddleware
from cheesecellar.renderers import APIJSONRenderer
from cheesecellar.serverdir import NodeInfo
from cheesecellar.simplepages import SimplePages


class CellarRequest(Request):
    """The request class; its own attributes cost nothing per request (Pyramid builds a
    new class for every request once ``add_request_method`` has added a property)."""

    @reify
    def cellar_settings(self) -> Settings:
        return self.registry.cellar_settings


def make_app(settings: Settings, pm, storage, nodeinfo: NodeInfo, secret: bytes):
    """Build the WSGI app from resolved settings, plugins and an open storage."""
    config = Configurator(settings={"cellar.serverdir": str(settings.serverdir)})
    registry = config.registry
    registry.cellar_settings = settings
    registry.cellar_pm = pm
    registry.cellar_nodeinfo = nodeinfo
    registry.registerUtility(storage, IStorage)
    registry.registerUtility(TokenSigner(secret), ITokenSigner)
    types = IndexTypeRegistry(pm)
    registry.registerUtility(types, IIndexTypes)
    registry.registerUtility(SimplePages(storage, types), ISimplePages)
    config.set_security_policy(CellarSecurityPolicy(pm))
    config.set_request_factory(CellarRequest)
    config.add_renderer("cellarjson", APIJSONRenderer)
    config.add_tween("cheesecellar.tweens.headers_tween_factory", over=EXCVIEW)
    config.add_tween("cheesecellar.tweens.transaction_tween_factory", under=EXCVIEW)
    config.include("cheesecellar.routes")
    pm.hook.cellar_pyramid_configure(config=config)
    config.scan("cheesecellar.views")
    app = config.make_wsgi_app()
    if settings.access_log:
        app = AccessLogMiddleware(app, open_access_log(settings.access_log))
    return OutsideURLMiddleware(app, settings.outside_url)
