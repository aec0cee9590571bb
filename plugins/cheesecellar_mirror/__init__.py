"""Mirror indexes: the ``mirror`` index type, a caching mirror of any simple index."""

from __future__ import annotations

from cheesecellar import hookimpl
from cheesecellar.interfaces import IIndexTypes
from cheesecellar.interfaces import IStorage
from cheesecellar.model.indextypes import ConfigKey
from cheesecellar.model.indextypes import IndexType
from cheesecellar.model.indextypes import to_bool
from cheesecellar.model.indextypes import to_int
from cheesecellar.model.indextypes import to_str
from cheesecellar.model.indextypes import to_url
from cheesecellar_mirror.present import present_config

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
    present=present_config,
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
    parser.add_argument(
        "--mirror-url",
        default=None,
        help="when initialising a server directory, the upstream of root/pypi "
        "(default https://pypi.org/simple/; e.g. https://pypi.tuna.tsinghua.edu.cn/simple)",
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=5.0,
        help="seconds to wait for an upstream to answer (each read) before serving from the cache",
    )


@hookimpl
def cellar_init_serverdir(tx, settings):
    if settings.plugin("no_root_pypi"):
        return
    from cheesecellar.model import keys

    config = dict(ROOT_PYPI)
    if settings.plugin("mirror_url"):
        config["mirror_url"] = to_url("mirror_url", settings.plugin("mirror_url"))
        config.pop("mirror_web_url_fmt")
    tx.set(keys.index("root", "pypi"), config)


@hookimpl
def cellar_startup(registry):
    from cheesecellar_mirror.downloads import Downloads
    from cheesecellar_mirror.reader import MirrorReader
    from cheesecellar_mirror.service import MirrorService

    storage = registry.getUtility(IStorage)
    service = MirrorService(storage, registry.cellar_pm, registry.cellar_settings)
    service.downloads = Downloads(service)
    registry.cellar_mirror = service
    registry.getUtility(IIndexTypes).update(
        "mirror", reader=MirrorReader(service), file_source=service.downloads
    )


@hookimpl
def cellar_shutdown(registry):
    service = getattr(registry, "cellar_mirror", None)
    if service is not None:
        service.close()


@hookimpl
def cellar_pyramid_configure(config):
    from cheesecellar.resources import IndexContext

    config.add_route(
        "mirror.refresh",
        "/{user:[^+/][^/]*}/{index:[^+/][^/]*}/+simple/{project}/refresh",
        factory=IndexContext,
    )
    config.scan("cheesecellar_mirror.views")


@hookimpl
def cellar_register_commands(subparsers):
    from cheesecellar_mirror.prefetch import register

    register(subparsers)
