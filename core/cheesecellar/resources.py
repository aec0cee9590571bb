"""Route contexts: what a URL names, with the ACL that says who may do what to it."""

from __future__ import annotations

from pyramid.authorization import DENY_ALL
from pyramid.authorization import Allow
from pyramid.authorization import Deny
from pyramid.authorization import Everyone

from cheesecellar.auth.identity import principal_for_acl_entry
from cheesecellar.auth.identity import user_principal
from cheesecellar.model import keys

ROOT = user_principal("root")


def _admins(request) -> list[str]:
    """Who administers users and indexes: root, or the ``--restrict-modify`` list."""
    restricted = request.cellar_settings.restrict_modify_principals
    if restricted is None:
        return [ROOT]
    return [principal_for_acl_entry(entry) for entry in sorted(restricted)]


def _restricted(request) -> bool:
    return request.cellar_settings.restrict_modify_principals is not None


def _owners(request, me: str) -> list[str]:
    """Who owns a user's account and indexes: the user and root, or only the restrict list."""
    admins = _admins(request)
    return admins if _restricted(request) else [*admins, me]


class RootContext:
    """The server: who may create users."""

    def __init__(self, request) -> None:
        self.request = request

    @property
    def __acl__(self):
        creators = _admins(self.request) if _restricted(self.request) else [Everyone]
        return [(Allow, p, "user_create") for p in creators]


class UserContext(RootContext):
    """``/{user}``: the user may change itself and own indexes, root may do everything."""

    def __init__(self, request) -> None:
        super().__init__(request)
        self.username = request.matchdict["user"]

    @property
    def __acl__(self):
        me = user_principal(self.username)
        owners = _owners(self.request, me)
        acl = [(Allow, p, "user_modify_password") for p in [*_admins(self.request), me]]
        if _restricted(self.request):
            # No one removes their own account, so the administrators cannot lock themselves out.
            acl.append((Deny, me, "user_delete"))
        acl += [
            (Allow, p, perm)
            for p in owners
            for perm in ("user_modify", "user_delete", "index_create")
        ]
        return acl + super().__acl__


class IndexContext(UserContext):
    """``/{user}/{index}``: the owner (or the restrict list) configures it."""

    def __init__(self, request) -> None:
        super().__init__(request)
        self.indexname = request.matchdict["index"]

    @property
    def name(self) -> str:
        return f"{self.username}/{self.indexname}"

    @property
    def config(self) -> dict:
        """The stored index configuration (empty while the index does not exist)."""
        return self.request.tx.get(keys.index(self.username, self.indexname)) or {}

    @property
    def __acl__(self):
        owners = _owners(self.request, user_principal(self.username))
        acl = [(Allow, p, perm) for p in owners for perm in ("index_modify", "index_delete")]
        uploaders = [principal_for_acl_entry(e) for e in self.config.get("acl_upload", ())]
        acl += [(Allow, p, "upload") for p in uploaders]
        testers = [principal_for_acl_entry(e) for e in self.config.get("acl_toxresult_upload", ())]
        acl += [(Allow, p, "toxresult_upload") for p in testers]
        # Removing releases: the uploaders, plus the owner and root (or the restrict list).
        acl += [(Allow, p, "delete_release") for p in [*uploaders, *owners]]
        return acl + super().__acl__ + [DENY_ALL]
