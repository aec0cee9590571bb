"""The Pyramid security policy: identity from the auth hooks, permissions from ACLs."""

from __future__ import annotations

from pyramid.authorization import ACLHelper

from cheesecellar.auth.identity import Identity
from cheesecellar.auth.identity import principals_for

_IDENTITY = "cellar_identity"
_UNKNOWN = object()


class CellarSecurityPolicy:
    """Resolves credentials through the plugin hooks, once per request."""

    def __init__(self, pm) -> None:
        self._pm = pm
        self._acl = ACLHelper()

    def identity(self, request) -> Identity | None:
        # Pyramid asks again for every permission check and every authenticated_userid;
        # the answer cannot change within a request, and a password check is not free.
        found = request.__dict__.get(_IDENTITY, _UNKNOWN)
        if found is _UNKNOWN:
            credentials = self._pm.hook.cellar_get_credentials(request=request)
            found = self._pm.hook.cellar_get_identity(request=request, credentials=credentials)
            request.__dict__[_IDENTITY] = found
        return found

    def authenticated_userid(self, request) -> str | None:
        identity = request.identity
        return None if identity is None else identity.username

    def permits(self, request, context, permission):
        return self._acl.permits(context, principals_for(request.identity), permission)

    def remember(self, request, userid, **kw):
        return []

    def forget(self, request, **kw):
        return []
