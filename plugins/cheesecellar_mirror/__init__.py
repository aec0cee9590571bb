"""Mirror indexes: the ``mirror`` index type (upstream fetching arrives with the mirror)."""

from __future__ import annotations

from cheesecellar import hookimpl
from cheesecellar.model.indextypes import ConfigKey
from cheesecellar.model.indextypes import IndexType
from cheesecellar.model.indextypes import to_bool
from cheesecellar.model.indextypes import to_int
from cheesecellar.model.indextypes import to_str
from cheesecellar.model.indextypes import to_url

MIRROR = IndexType(
    name="mirror",
    keys=(
        # Absent keys mean "off" or "use the server default"; like devpi, a new mirror
        # stores only what was set.
        ConfigKey("mirror_url", to_url),
        ConfigKey("mirror_cache_expiry", to_int),
        ConfigKey("mirror_no_project_list", to_bool),
        ConfigKey("mirror_use_external_urls", to_bool),
        ConfigKey("mirror_ignore_serial_header", to_bool),
        ConfigKey("mirror_provides_core_metadata", to_bool),
        ConfigKey("mirror_web_url_fmt", to_str),
    ),
    # devpi accepts these for a mirror and drops them; clients send them by habit.
    ignored=frozenset({"bases", "acl_upload", "mirror_whitelist"}),
    accepts_uploads=False,
    is_mirror=True,
)

#: The configuration of ``root/pypi`` on a new server.
ROOT_PYPI = {
    "type": "mirror",
    "volatile": False,
    "title": "PyPI",
    "mirror_url": "https://pypi.org/simple/",
    "mirror_web_url_fmt": "https://pypi.org/project/{name}/",
}


@hookimpl
def cellar_register_index_types(registry):
    registry.add(MIRROR)


@hookimpl
def cellar_add_options(parser):
    parser.add_argument(
        "--no-root-pypi",
        action="store_true",
        default=False,
        help="when initialising a server directory, do not create the root/pypi mirror",
    )


@hookimpl
def cellar_init_serverdir(tx, settings):
    if settings.plugin("no_root_pypi"):
        return
    from cheesecellar.model import keys

    tx.set(keys.index("root", "pypi"), dict(ROOT_PYPI))
