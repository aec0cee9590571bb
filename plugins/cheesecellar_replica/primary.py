"""The primary's side: who may replicate, the changes and blob endpoints, polling replicas."""

from __future__ import annotations

import logging
import threading
import time

from pyramid.response import Response
from pyramid.view import view_config

from cheesecellar.errors import BadRequest
from cheesecellar.errors import Forbidden
from cheesecellar.errors import NotFound
from cheesecellar.interfaces import IStorage
from cheesecellar.storage import StorageError
from cheesecellar.storage import check_relpath
from cheesecellar.views.files import file_response
from cheesecellar_replica.protocol import BATCH
from cheesecellar_replica.protocol import BATCH_BLOB_MAX
from cheesecellar_replica.protocol import BATCH_PATHS
from cheesecellar_replica.protocol import MAX_ENTRIES
from cheesecellar_replica.protocol import MAX_WAIT
from cheesecellar_replica.protocol import OUTSIDE_URL_HEADER
from cheesecellar_replica.protocol import SHA256_HEADER
from cheesecellar_replica.protocol import TOKEN_HEADER
from cheesecellar_replica.protocol import UUID_HEADER
from cheesecellar_replica.protocol import dumps
from cheesecellar_replica.protocol import stream_changes
from cheesecellar_replica.tokens import ReplicaTokens

log = logging.getLogger(__name__)

#: Seconds between two looks at the server's stopping flag while a poll waits.
STOP_CHECK = 0.25
DISABLED = "replication is disabled: start the primary with --role primary"


class PollingReplicas:
    """What the primary knows of the replicas that poll it, for ``/+status``."""

    def __init__(self) -> None:
        self._replicas: dict[str, dict] = {}
        self._lock = threading.Lock()

    def seen(self, uuid: str, remote_ip: str | None, outside_url: str | None, serial: int):
        with self._lock:
            self._replicas[uuid] = {
                "remote-ip": remote_ip,
                "outside-url": outside_url,
                "serial": serial,
                "last-request": time.time(),
                "is-streaming": True,
            }

    def answered(self, uuid: str) -> None:
        with self._lock:
            if uuid in self._replicas:
                self._replicas[uuid]["is-streaming"] = False

    def status(self) -> dict[str, dict]:
        with self._lock:
            return {uuid: dict(info) for uuid, info in self._replicas.items()}


class PrimaryService:
    """Checks replica tokens and keeps the polling replicas (one per primary server)."""

    def __init__(self, secret: bytes) -> None:
        self.tokens = ReplicaTokens(secret)
        self.polling = PollingReplicas()

    def authenticate(self, request) -> str:
        """The uuid of the replica that sent ``request``; 403 for a bad or missing token."""
        uuid = request.headers.get(UUID_HEADER)
        problem = self.tokens.check(request.headers.get(TOKEN_HEADER), uuid)
        if problem is None:
            return uuid
        log.warning(
            "refused a replication request from %s (replica %s): %s; "
            "check that both servers use the same --secretfile",
            request.remote_addr,
            uuid or "without uuid",
            problem,
        )
        raise Forbidden(f"replica not authorised: {problem}")

    def stop(self) -> None:
        """Nothing runs in the background of a primary."""

    def status_fields(self) -> dict:
        return {"polling_replicas": self.polling.status()}

    def status_messages(self) -> list[dict]:
        return []

    def metrics(self) -> list[tuple[str, str, float]]:
        return [("cellar_replicas_polling", "gauge", len(self.polling.status()))]


def primary_service(request) -> PrimaryService:
    """The service of a primary; 403 on any other node."""
    service = getattr(request.registry, "cellar_replication", None)
    if not isinstance(service, PrimaryService):
        if request.cellar_settings.role == "replica":
            raise Forbidden("this server is a replica: replicate from its primary")
        raise Forbidden(DISABLED)
    return service


def _number(request, name: str, default, convert=int):
    text = request.GET.get(name)
    if text is None:
        return default
    try:
        return convert(text)
    except ValueError:
        raise BadRequest(f"{name} must be a number, got {text!r}") from None


@view_config(route_name="replica.changes", request_method="GET")
def changes(request):
    """The entries from serial ``since`` on; waits up to ``wait`` s for the first one."""
    service = primary_service(request)
    uuid = service.authenticate(request)
    since = _number(request, "since", 0)
    wait = min(max(_number(request, "wait", 0.0, float), 0.0), MAX_WAIT)
    limit = min(max(_number(request, "limit", MAX_ENTRIES), 1), MAX_ENTRIES)
    if since < 0:
        raise BadRequest("since must not be negative")
    storage = request.registry.getUtility(IStorage)
    outside = request.headers.get(OUTSIDE_URL_HEADER)
    service.polling.seen(uuid, request.remote_addr, outside, since - 1)
    try:
        wait_for_serial(storage, since, wait, getattr(request.registry, "cellar_stopping", None))
    finally:
        service.polling.answered(uuid)
    head = {"primary-uuid": request.registry.cellar_nodeinfo.uuid, "serial": -1}
    head["serial"] = storage.last_serial()
    response = Response(content_type="application/json", charset=None)
    response.app_iter = stream_changes(storage, head, since, limit)
    return response


def wait_for_serial(storage, serial: int, wait: float, stopping) -> None:
    """Wait up to ``wait`` s for ``serial``, in short steps that end once the server
    is ``stopping`` (a poll would otherwise hold its shutdown up)."""
    deadline = time.monotonic() + wait
    while storage.last_serial() < serial and not (stopping is not None and stopping.is_set()):
        left = deadline - time.monotonic()
        if left <= 0:
            return
        storage.wait_for_commit(serial, min(left, STOP_CHECK))


@view_config(route_name="replica.blob", request_method="GET")
def blob(request):
    """The content of any committed blob (release files, metadata, doc zips, tox results,
    name lists), with its sha256."""
    service = primary_service(request)
    service.authenticate(request)
    try:
        relpath = check_relpath(request.matchdict["relpath"])
    except StorageError as exc:
        raise BadRequest(str(exc)) from None
    info = request.tx.file_info(relpath)
    if info is None:
        raise NotFound(f"no blob {relpath} at serial {request.tx.at_serial}")
    response = file_response(request, relpath, info.sha256, info.size, None)
    response.headers[SHA256_HEADER] = info.sha256
    return response


@view_config(route_name="replica.blob", request_method="GET", match_param=f"relpath={BATCH}")
def small_blobs(request):
    """Several small blobs in one answer, so that a replica catching up does not pay a
    request for each ``.metadata`` file and small wheel."""
    service = primary_service(request)
    service.authenticate(request)
    paths = request.GET.getall("path")
    if not 0 < len(paths) <= BATCH_PATHS:
        raise BadRequest(f"give 1 to {BATCH_PATHS} path parameters, not {len(paths)}")
    storage = request.registry.getUtility(IStorage)
    index, contents = [], []
    for path in paths:
        try:
            relpath = check_relpath(path)
        except StorageError as exc:
            raise BadRequest(str(exc)) from None
        info = request.tx.file_info(relpath)
        if info is None or info.size > BATCH_BLOB_MAX:
            index.append({"path": relpath, "missing": "absent" if info is None else "large"})
            continue
        with storage.open_file(relpath) as fp:
            contents.append(fp.read())
        index.append({"path": relpath, "sha256": info.sha256, "size": len(contents[-1])})
    body = dumps(index).encode() + b"\n" + b"".join(contents)
    return Response(body=body, content_type="application/octet-stream")
