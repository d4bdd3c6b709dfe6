"""A lean S3 client for the bucket's bulk uploads, in-store copies and listings (PutObject, CopyObject,
ListObjectsV2).

Through s3fs/aiobotocore every request costs about 1 ms of Python (parameter validation,
serialisation, event hooks, signing, response parsing): on the two cores of the production host,
as much as the store itself spends on it. Here a request is signed with botocore's own SigV4
(:class:`botocore.auth.S3SigV4Auth`) and sent from a few threads (a socket wait releases the GIL)
on keep-alive connections that speak just the HTTP/1.1 these requests need (:class:`Connection`:
urllib3, through http.client's header parser, cost ~0.3 ms of CPU a request; this ~0.1 ms with the
kernel's part; signing ~0.07 ms). Measured by bench/bench_s3_ops.py: ~0.2 ms a request in all,
against ~1.2-1.5 ms through s3fs.

Everything that decides where and how a request goes is read from the aiobotocore client the
bucket's s3fs filesystem already built, never re-derived: the bucket's endpoint (the client's
endpoint ruleset: path-style for a custom ``endpoint_url`` such as SeaweedFS, MinIO or moto,
virtual-hosted and regional on AWS), the signing region and name, and the credentials (frozen from
the client's own, so session tokens work). :func:`open_client` returns None for anything unusual
(anonymous access, another signer or signature version, extra request parameters such as
server-side encryption or requester-pays, proxies, a client certificate, TLS without verification,
an endpoint that needs extra headers, or a client whose internals are not as expected): the bucket then keeps its s3fs path, and the reason is logged once.

Rules kept from botocore: transient failures (connection errors, 500/502/503/504, 429, SlowDown,
InternalError, RequestTimeout) are retried with jittered exponential backoff, :data:`ATTEMPTS`
tries in all; a CopyObject answered 200 with an ``<Error>`` body is a failure (retried if its code
is transient); a copy whose source is missing fails with :class:`NoSuchObject`; a kept-alive
connection the server closed meanwhile is replaced without counting an attempt. A failure given up
carries botocore's ``ClientError`` (or the connection error) as its cause, so that the tasks' error
mapping (plugins/enr_airflow/tasks.py) retries the same failures as on the s3fs path.
"""
from __future__ import annotations

import itertools
import logging
import random
import re
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote, unquote_plus

log = logging.getLogger(__name__)

ATTEMPTS = 4  # botocore's legacy mode makes 5, its standard mode 3
WORKERS = 16  # requests in flight: each waits on its socket, not on the GIL
_TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
_TRANSIENT_CODES = frozenset({"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout",
                              "Throttling", "ThrottlingException", "RequestLimitExceeded"})
_CODE = re.compile(rb"<Code>([^<]*)</Code>")
_MESSAGE = re.compile(rb"<Message>([^<]*)</Message>")
_BENIGN_CONFIG = {"retries", "connect_timeout", "read_timeout", "max_pool_connections", "region_name"}
_BENIGN_CLIENT = {"endpoint_url", "region_name", "aws_access_key_id", "aws_secret_access_key", "aws_session_token"}
_told: set[str] = set()
_told_lock = threading.Lock()


class RequestFailed(OSError):
    """An S3 request failed for good (names the object key, the HTTP status and S3's error code)."""

    def __init__(self, key: str, status: int | None, code: str, message: str = ""):
        self.key, self.status, self.code = key, status, code
        text = f"{code or 'error'}" + (f" (HTTP {status})" if status else "") + (f": {message}" if message else "")
        super().__init__(text)


# The bucket is in another region than the connection says: botocore re-signs for the bucket's
# region and follows; this client does not (the bucket then goes back to s3fs, :func:`redirected`).
_REDIRECT_CODES = frozenset({"PermanentRedirect", "TemporaryRedirect", "AuthorizationHeaderMalformed",
                             "IllegalLocationConstraintException"})


def redirected(failures) -> bool:
    """Whether any of ``failures`` says the bucket is to be asked elsewhere (another region)."""
    return any(f is not None and (f.status in (301, 307) or f.code in _REDIRECT_CODES) for f in failures)


class NoSuchObject(RequestFailed, FileNotFoundError):
    """The source of a copy is not in the store."""


@dataclass(frozen=True)
class Request:
    """One request: ``method`` on object ``key`` of the client's bucket, with ``headers`` and ``body``."""

    method: str
    key: str
    headers: dict
    body: bytes = b""
    copy: bool = False  # a CopyObject: a 404 means the source is missing, a 200 may carry an <Error>
    query: str = ""  # the encoded query string, names in order (as SigV4 signs it)


def _tell_once(reason: str) -> None:
    with _told_lock:
        if reason in _told:
            return
        _told.add(reason)
    log.info("S3 bulk requests go through s3fs: %s", reason)


def open_client(fs, bucket: str, workers: int = WORKERS) -> "BulkClient | None":
    """A :class:`BulkClient` for ``bucket`` on the store of the s3fs filesystem ``fs``, or None (logged
    once) if the filesystem's setup is one this client does not reproduce."""
    try:
        return _open(fs, bucket, workers)
    except Unsupported as exc:
        _tell_once(str(exc))
    except Exception as exc:  # the client's internals changed shape (private attributes): keep s3fs
        _tell_once(f"cannot read the client's setup ({type(exc).__name__}: {exc})")
    return None


class Unsupported(Exception):
    """A setup the lean client does not reproduce (the caller keeps the s3fs path)."""


def _open(fs, bucket: str, workers: int) -> "BulkClient":
    from fsspec.asyn import sync

    if type(fs).__name__ != "S3FileSystem" or not hasattr(fs, "set_session"):
        raise Unsupported(f"not an s3fs filesystem ({type(fs).__name__})")
    if getattr(fs, "anon", False):
        raise Unsupported("anonymous access")
    if getattr(fs, "s3_additional_kwargs", None) or getattr(fs, "req_kw", None):
        raise Unsupported("extra request parameters (s3_additional_kwargs or requester pays)")
    extra_config = (set(getattr(fs, "config_kwargs", None) or {}) - _BENIGN_CONFIG) \
        | (set(getattr(fs, "client_kwargs", None) or {}) - _BENIGN_CLIENT)
    if extra_config:
        raise Unsupported(f"client configuration {sorted(extra_config)}")
    sync(fs.loop, fs.set_session)
    client = sync(fs.loop, fs.get_s3, bucket)
    config = client.meta.config
    if config.signature_version not in (None, "s3v4", "v4"):
        raise Unsupported(f"signature version {config.signature_version!r}")
    if getattr(config, "proxies", None) or getattr(config, "client_cert", None):
        raise Unsupported("proxies or a client certificate")
    base, signing = sync(fs.loop, _resolve_endpoint, client, bucket)
    proxies = getattr(getattr(client._endpoint, "http_session", None), "_proxy_config", None)
    if proxies is None or proxies.proxy_url_for(base):  # HTTPS_PROXY/HTTP_PROXY (and NO_PROXY) from the environment
        raise Unsupported("a proxy for the endpoint (or no way to tell)")
    verify = client._endpoint.http_session._verify  # True, a CA bundle's path, or False
    if base.startswith("https:") and verify is False:
        raise Unsupported("TLS certificates not verified")
    credentials = client._request_signer._credentials
    if credentials is None:
        raise Unsupported("no credentials")
    return BulkClient(base, bucket, signing["region"], signing.get("signing_name") or "s3",
                      lambda: sync(fs.loop, credentials.get_frozen_credentials), workers, verify)


async def _resolve_endpoint(client, bucket: str) -> tuple[str, dict]:
    """The URL objects of ``bucket`` live under, and the signing context, as the client's endpoint
    ruleset gives them for a PutObject (CopyObject resolves the same way)."""
    operation = client.meta.service_model.operation_model("PutObject")
    context: dict = {"client_config": client.meta.config}
    url, headers, _ = await client._resolve_endpoint_ruleset(operation, {"Bucket": bucket, "Key": "k"}, context)
    signing = context.get("signing") or {}
    if headers:
        raise Unsupported(f"the endpoint asks for extra headers {sorted(headers)}")
    if context.get("auth_type") not in (None, "v4") or not signing.get("region"):
        raise Unsupported(f"auth type {context.get('auth_type')!r}")
    return url.rstrip("/"), signing


class BulkClient:
    """Signs and sends many requests on one bucket over keep-alive connections (:class:`Connection`)."""

    def __init__(self, base_url: str, bucket: str, region: str, signing_name: str, credentials, workers: int,
                 verify: bool | str = True):
        from urllib.parse import urlsplit

        from botocore.auth import _host_from_url

        self.base_url, self.bucket, self.region, self.signing_name = base_url, bucket, region, signing_name
        self._credentials = credentials  # () -> frozen credentials (botocore ReadOnlyCredentials)
        self.workers = workers
        parts = urlsplit(base_url)
        self._path = parts.path.rstrip("/")  # "/bucket" for path-style addressing
        self._url_prefix = f"{parts.scheme}://{parts.netloc}"
        self._host_header = _host_from_url(base_url)  # as the signer sees it (no default port)
        tls = parts.scheme == "https"
        # TLS as the client verifies it: botocore's CA bundle (certifi) or the one it was given
        self._address = (parts.hostname, parts.port or (443 if tls else 80), verify if tls else None)
        self._idle: list[Connection] = []  # keep-alive connections, last used first
        self._idle_lock = threading.Lock()

    def copy_source(self, key: str) -> str:
        """The ``x-amz-copy-source`` header of object ``key`` of this bucket (URL-encoded as botocore does)."""
        return quote(f"{self.bucket}/{key}", safe="/~")

    def send_all(self, requests: list[Request]) -> list[RequestFailed | None]:
        """Send every request (retrying transient failures); what became of each, in order."""
        from botocore.auth import S3SigV4Auth

        signer = S3SigV4Auth(self._credentials(), self.signing_name, self.region)
        if len(requests) < 2:
            return [self._send(signer, r) for r in requests]
        # Each thread takes the next request until none is left (no future, no queue per request).
        results: list[RequestFailed | None] = [None] * len(requests)
        errors: list[BaseException] = []
        turns = itertools.count()

        def work() -> None:
            try:
                while (index := next(turns)) < len(requests) and not errors:
                    results[index] = self._send(signer, requests[index])
            except BaseException as exc:  # a bug, not a failed request: raised below
                errors.append(exc)

        threads = [threading.Thread(target=work, name=f"s3bulk-{n}", daemon=True)
                   for n in range(min(self.workers, len(requests)))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return results

    def list_objects(self, prefix: str) -> dict[str, tuple[int, str]]:
        """``{key: (size, ETag without quotes)}`` of every object whose key starts with ``prefix``
        (ListObjectsV2, 1,000 a page, keys URL-encoded on the wire as botocore asks for them). The
        answer is parsed with ElementTree: botocore's parser cost ~0.1 ms an object."""
        from xml.etree import ElementTree

        from botocore.auth import S3SigV4Auth

        signer = S3SigV4Auth(self._credentials(), self.signing_name, self.region)
        found: dict[str, tuple[int, str]] = {}
        token = None
        while True:
            params = {"encoding-type": "url", "list-type": "2", "prefix": prefix,
                      **({"continuation-token": token} if token else {})}
            query = "&".join(f"{name}={quote(value, safe='-_.~')}" for name, value in sorted(params.items()))
            failure, body = self._answer(signer, Request("GET", "", {}, query=query))
            if failure is not None:
                raise failure
            try:
                page = ElementTree.fromstring(body)
            except ElementTree.ParseError as exc:
                raise RequestFailed(prefix, 200, "MalformedListing", str(exc)) from exc
            ns = page.tag[:page.tag.index("}") + 1] if page.tag.startswith("{") else ""
            # keys are URL-encoded only if the store says so (a store may ignore encoding-type, as botocore knows)
            encoded = (page.findtext(f"{ns}EncodingType") or "").lower() == "url"
            for item in page.iter(f"{ns}Contents"):
                key = item.findtext(f"{ns}Key") or ""
                key = unquote_plus(key) if encoded else key
                found[key] = (int(item.findtext(f"{ns}Size") or 0), (item.findtext(f"{ns}ETag") or "").strip('"'))
            token = page.findtext(f"{ns}NextContinuationToken")
            if page.findtext(f"{ns}IsTruncated") != "true" or not token:
                return found

    def _send(self, signer, request: Request) -> RequestFailed | None:
        return self._answer(signer, request)[0]

    def _answer(self, signer, request: Request) -> tuple[RequestFailed | None, bytes]:
        """Send ``request`` (retrying transient failures): (None, the answer's body) or (what failed, b"")."""
        from botocore.awsrequest import AWSRequest

        path = f"{self._path}/{quote(request.key, safe='/~')}" if request.key else self._path or "/"
        if request.query:
            path += "?" + request.query
        for attempt in range(ATTEMPTS):
            signed = AWSRequest(method=request.method, url=self._url_prefix + path,
                                headers={"Host": self._host_header, **request.headers}, data=request.body)
            signer.add_auth(signed)
            try:
                status, body = self._exchange(request.method, path, signed.headers.items(), request.body)
            except (OSError, ValueError) as exc:  # connection reset, refused, timed out, garbled: transient
                failure = RequestFailed(request.key, None, type(exc).__name__, str(exc))
                failure.__cause__ = exc  # what the task's error mapping looks for (a ConnectionError, ...)
            else:
                failure = self._failure(request, status, body)
                if failure is None:
                    return None, body
                if not (status in _TRANSIENT_STATUS or failure.code in _TRANSIENT_CODES):
                    return failure, b""
            if attempt + 1 < ATTEMPTS:
                time.sleep(random.random() * min(0.1 * 2 ** attempt, 2.0))
        return failure, b""

    def _exchange(self, method: str, path: str, headers, body: bytes) -> tuple[int, bytes]:
        """One request on an idle keep-alive connection (or a new one); (status, body)."""
        with self._idle_lock:
            connection = self._idle.pop() if self._idle else None
        try:
            if connection is not None:
                try:
                    status, answer, keep = connection.exchange(method, path, headers, body)
                except (ConnectionError, TimeoutError, OSError):
                    # a kept-alive connection the server closed meanwhile: once more on a new one
                    # (not a failed attempt; PutObject and CopyObject can be repeated)
                    connection.close()
                    connection = None
            if connection is None:
                connection = Connection(*self._address)
                status, answer, keep = connection.exchange(method, path, headers, body)
        except BaseException:
            if connection is not None:
                connection.close()
            raise
        if keep:
            with self._idle_lock:
                self._idle.append(connection)
        else:
            connection.close()
        return status, answer

    def close(self) -> None:
        """Close the idle connections."""
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    @staticmethod
    def _failure(request: Request, status: int, body: bytes) -> RequestFailed | None:
        """None if the answer is a success; else what failed (S3's error code and message)."""
        if status == 200 and not (request.copy and b"<Error>" in body[:512]):
            return None
        code = _CODE.search(body)
        message = _MESSAGE.search(body)
        code_text = code.group(1).decode("utf-8", "replace") if code else f"HTTP {status}"
        message_text = message.group(1).decode("utf-8", "replace") if message else ""
        if status == 200:  # an <Error> in a 200 answer: botocore treats it as a 500
            status = 500
        kind = NoSuchObject if request.copy and status == 404 else RequestFailed
        failure = kind(request.key, status, code_text, message_text)
        # the cause botocore would have raised: the tasks' error mapping (plugins/enr_airflow/tasks.py)
        # tells a transient answer (5xx, SlowDown) from a final one by it, as on the s3fs path
        from botocore.exceptions import ClientError

        failure.__cause__ = ClientError({"Error": {"Code": code_text, "Message": message_text},
                                         "ResponseMetadata": {"HTTPStatusCode": status}},
                                        "CopyObject" if request.copy else "PutObject")
        return failure


class Connection:
    """One HTTP/1.1 keep-alive connection: a request goes out in one ``sendall`` (head and body),
    the answer is read by its status line, headers and Content-Length (or chunks). This is all
    S3's PutObject and CopyObject need, at a small part of the CPU of http.client's parser."""

    TIMEOUT = 60.0

    def __init__(self, host: str, port: int, verify: bool | str | None):
        import socket

        sock = socket.create_connection((host, port), timeout=self.TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if verify is not None:  # https, verified against botocore's CA bundle or the client's own
            import ssl

            from botocore.httpsession import get_cert_path

            sock = ssl.create_default_context(cafile=get_cert_path(verify)).wrap_socket(sock, server_hostname=host)
        self._sock = sock
        self._file = sock.makefile("rb")

    def exchange(self, method: str, path: str, headers, body: bytes) -> tuple[int, bytes, bool]:
        """Send one request; (status, body, whether the connection can be used again)."""
        head = [f"{method} {path} HTTP/1.1"]
        head += [f"{name}: {value}" for name, value in headers]
        head.append(f"Content-Length: {len(body)}\r\n\r\n")
        self._sock.sendall("\r\n".join(head).encode("ascii") + body)
        read = self._file.readline
        while True:  # an interim answer (1xx: 100 Continue, 103 Early Hints) is followed by the real one
            status_line = read(65537)
            version, _, rest = status_line.partition(b" ")
            if not version.startswith(b"HTTP/1."):
                raise ConnectionError(f"not an HTTP answer: {status_line[:80]!r}")
            status = int(rest[:3])
            fields: dict[bytes, bytes] = {}
            while True:
                line = read(65537)
                if line in (b"\r\n", b"\n"):
                    break
                if not line:
                    raise ConnectionError("connection closed in the answer's headers")
                name, _, value = line.partition(b":")
                fields[name.strip().lower()] = value.strip()
            if not 100 <= status < 200:
                break
        keep = fields.get(b"connection", b"").lower() != b"close" and version != b"HTTP/1.0"
        if b"chunked" in fields.get(b"transfer-encoding", b"").lower():
            data = self._read_chunks()
        elif b"content-length" in fields:
            data = self._read_exactly(int(fields[b"content-length"]))
        elif method == "HEAD" or status in (204, 304):
            data = b""
        else:
            data, keep = self._file.read(), False
        return status, data, keep

    def _read_exactly(self, size: int) -> bytes:
        data = self._file.read(size)
        if len(data) != size:
            raise ConnectionError(f"answer cut short ({len(data)} of {size} bytes)")
        return data

    def _read_chunks(self) -> bytes:
        parts = []
        while True:
            size = int(self._file.readline(65537).split(b";")[0].strip() or b"x", 16)
            if size == 0:
                while self._file.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(self._read_exactly(size))
            self._read_exactly(2)  # CRLF

    def close(self) -> None:
        try:
            self._file.close()
            self._sock.close()
        except OSError:
            pass
