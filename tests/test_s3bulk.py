"""The lean bulk path of an object-store bucket (enr/s3bulk.py): ``write_many`` and ``copy_many``.

Against real S3 servers on loopback (moto, and SeaweedFS if ``weed`` is installed: it checks the
SigV4 signatures), what the lean path wrote is read back with boto3: the bytes, the Content-Type and
Cache-Control of uploads, the source's headers kept by in-store copies, keys that need URL-encoding.
Against a hostile loopback server: a CopyObject answered 200 with an ``<Error>`` body is refused,
transient failures (a dropped connection, 503 SlowDown) are retried, a missing source is named, and
an unsafe key is refused before any request. An unusual client setup falls back to s3fs, said once.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from enr import s3bulk
from enr.bucket import Bucket, BucketError, UnsafeKey
from tests.support.processes import environment

CONN_ID = "enr_s3bulk_test"
NAME = "enr-bulk"
PAGES = {"night/a.html": b"<p>a</p>", "night/data/b.json": b'{"b": 1}', "night/odd name+plus/\u00e9t\u00e9 %.html": b"odd",
         "night/SHA256SUMS": b"sums"}


def _connection(endpoint: str, **extra) -> str:
    return json.dumps({"conn_type": "aws", "login": "testing-key", "password": "testing-secret",
                       "extra": {"endpoint_url": endpoint, "region_name": "us-east-1", **extra}})


def _check_round_trip(bucket: Bucket, client, name: str) -> None:
    """Upload with the lean path, copy inside the store, read everything back with boto3."""
    assert bucket._lean_client()[0] is not None, "the lean path did not open"
    bucket.write_many(PAGES, cache_control="public, max-age=60")
    for key, data in PAGES.items():
        got = client.get_object(Bucket=name, Key=f"pub/{key}")
        assert got["Body"].read() == data
        assert got["ContentType"] == {"html": "text/html; charset=utf-8", "json": "application/json; charset=utf-8",
                                      "SHA256SUMS": "text/plain; charset=utf-8"}[key.rsplit(".", 1)[-1].split("/")[-1]]
        assert got["CacheControl"] == "public, max-age=60"
    client.put_object(Bucket=name, Key="pub/night/plain.txt", Body=b"plain", ContentType="text/plain; charset=utf-8")
    bucket.copy_many({f"v2/{key}": key for key in PAGES} | {"v2/plain.txt": "night/plain.txt"})
    for key, data in PAGES.items():
        got = client.get_object(Bucket=name, Key=f"pub/v2/{key}")
        source = client.head_object(Bucket=name, Key=f"pub/{key}")
        assert got["Body"].read() == data
        assert (got["ContentType"], got["CacheControl"]) == (source["ContentType"], source["CacheControl"])
    plain = client.get_object(Bucket=name, Key="pub/v2/plain.txt")
    assert plain["Body"].read() == b"plain" and "CacheControl" not in plain  # nothing added to the source's
    with pytest.raises(FileNotFoundError, match="night/gone.html"):
        bucket.copy_many({"v3/a.html": "night/a.html", "v3/gone.html": "night/gone.html"})
    # the listing (ListObjectsV2, 1,000 a page): the same as the s3fs path's, sizes and MD5 ETags
    many = {f"many/{n:04d}.txt": str(n).encode() for n in range(1005)}
    bucket.write_many(many)
    slow = Bucket(bucket.url, conn_id=CONN_ID)
    slow._lean = False
    for prefix in ("night", "v2/", "many", "nothing"):
        assert bucket.objects(prefix) == slow.objects(prefix)
    assert bucket.objects("night") == {key: (len(data), hashlib.md5(data).hexdigest())
                                       for key, data in (PAGES | {"night/plain.txt": b"plain"}).items()}
    assert len(bucket.objects("many")) == 1005


def test_uploads_and_copies_on_moto_read_back_with_boto3() -> None:
    from tests.support.publish_fixtures import moto_s3

    with moto_s3(NAME) as (endpoint, client), environment({f"AIRFLOW_CONN_{CONN_ID.upper()}": _connection(endpoint)}):
        _check_round_trip(Bucket(f"s3://{NAME}/pub/", conn_id=CONN_ID), client, NAME)


@pytest.mark.slow
def test_uploads_and_copies_on_seaweedfs_with_checked_signatures(tmp_path: Path) -> None:
    from tests.support.s3 import SeaweedS3, aws_connection, serving, skip_without_seaweed

    skip_without_seaweed()
    server = SeaweedS3(tmp_path / "s3", buckets=(NAME,), public_buckets=())
    with serving({CONN_ID: server}):
        _check_round_trip(Bucket(f"s3://{NAME}/pub/", conn_id=CONN_ID), server.client(), NAME)
        wrong = aws_connection(server.access_key, "not-the-secret", server.endpoint)
        with environment({f"AIRFLOW_CONN_{CONN_ID.upper()}": wrong}):
            with pytest.raises(BucketError, match="night/a.html"):  # a bad signature is refused, not retried
                Bucket(f"s3://{NAME}/pub/", conn_id=CONN_ID).write_many(PAGES)


class _Hostile:
    """A loopback "S3" that answers each request by the next of ``script``: ``ok``, ``drop`` (close
    the connection without answering), ``slowdown`` (503), ``denied`` (403), ``error200`` (200 with an <Error> body)."""

    def __init__(self, script: list[str], tls: tuple[Path, Path] | None = None):
        self.script, self.seen, self.listing = list(script), [], b""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_PUT(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                owner.seen.append((self.path, dict(self.headers)))
                move = owner.script.pop(0) if owner.script else "ok"
                if move == "ok-then-close":  # answer, then close the kept-alive connection
                    self.close_connection, move = True, "ok"
                if move == "continue-then-ok":  # an interim 100 Continue first, then the real answer
                    self.send_response_only(100)
                    self.end_headers()
                    move = "ok"
                if move == "drop":
                    self.close_connection = True
                    return
                status, body = {"ok": (200, b"<CopyObjectResult><ETag>\"e\"</ETag></CopyObjectResult>"),
                                "denied": (403, b"<Error><Code>AccessDenied</Code><Message>No</Message></Error>"),
                                "slowdown": (503, b"<Error><Code>SlowDown</Code><Message>Slow</Message></Error>"),
                                "error200": (200, b"<?xml version=\"1.0\"?>\n<Error><Code>InternalError</Code>"
                                                  b"<Message>We encountered an internal error</Message></Error>"),
                                }[move]
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # a listing: owner.listing as the body
                owner.seen.append((self.path, dict(self.headers)))
                self.send_response(200)
                self.send_header("Content-Length", str(len(owner.listing)))
                self.end_headers()
                self.wfile.write(owner.listing)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls:
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.endpoint = f"http{'s' if tls else ''}://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hostile():
    """Start a :class:`_Hostile` server for a script; (server, a bucket on it through a connection)."""
    with contextlib.ExitStack() as stack:
        def start(script: list[str]) -> tuple[_Hostile, Bucket]:
            server = _Hostile(script)
            stack.callback(server.close)
            stack.enter_context(environment({f"AIRFLOW_CONN_{CONN_ID.upper()}": _connection(server.endpoint)}))
            bucket = Bucket(f"s3://{NAME}/pub/", conn_id=CONN_ID)
            assert bucket._lean_client()[0] is not None
            return server, bucket

        yield start


def test_a_copy_answered_200_with_an_error_body_is_refused(hostile, monkeypatch) -> None:
    monkeypatch.setattr(s3bulk.time, "sleep", lambda seconds: None)
    server, bucket = hostile(["error200"] * s3bulk.ATTEMPTS)
    with pytest.raises(BucketError, match=r"cannot copy night/a\.html to v2/a\.html: InternalError"):
        bucket.copy_many({"v2/a.html": "night/a.html"})
    assert len(server.seen) == s3bulk.ATTEMPTS  # InternalError is transient: retried, then given up
    path, headers = server.seen[0]
    assert path == f"/{NAME}/pub/v2/a.html"  # path-style on a custom endpoint
    assert headers["x-amz-copy-source"] == f"{NAME}/pub/night/a.html" and headers["x-amz-metadata-directive"] == "COPY"
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=testing-key/")


def test_transient_failures_are_retried(hostile, monkeypatch) -> None:
    monkeypatch.setattr(s3bulk.time, "sleep", lambda seconds: None)
    server, bucket = hostile(["drop", "slowdown", "error200", "ok", "ok"])
    bucket.copy_many({"v2/a.html": "night/a.html", "v2/b.html": "night/b.html"})
    paths = [path for path, _ in server.seen]
    assert len(paths) == 5 and set(paths) == {f"/{NAME}/pub/v2/a.html", f"/{NAME}/pub/v2/b.html"}


def test_an_interim_1xx_answer_is_not_taken_for_the_real_one(hostile) -> None:
    # the connection stays in step: the second copy reads its own answer, not the first one's
    server, bucket = hostile(["continue-then-ok", "denied"])
    with pytest.raises(BucketError, match="AccessDenied"):
        bucket.copy_many({"v2/a.html": "night/a.html"})
        bucket.copy_many({"v2/b.html": "night/b.html"})
    assert len(server.seen) == 2


_LISTING = (b'<?xml version="1.0"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">%s'
            b"<Contents><Key>pub/night/a%%2Ehtml</Key><Size>3</Size><ETag>\"e1\"</ETag></Contents>"
            b"<Contents><Key>pub/night/a+b.html</Key><Size>4</Size><ETag>\"e2\"</ETag></Contents>"
            b"<IsTruncated>false</IsTruncated></ListBucketResult>")


@pytest.mark.parametrize("echo, keys", [
    (b"<EncodingType>url</EncodingType>", {"night/a.html", "night/a b.html"}),
    (b"", {"night/a%2Ehtml", "night/a+b.html"}),  # a store that ignored encoding-type: keys as they are
])
def test_listed_keys_are_decoded_only_when_the_store_encoded_them(hostile, echo, keys) -> None:
    server, bucket = hostile([])
    server.listing = _LISTING % echo
    assert set(bucket.objects("night")) == keys


def test_a_proxy_from_the_environment_keeps_the_s3fs_path(caplog) -> None:
    from tests.support.publish_fixtures import moto_s3

    s3bulk._told.clear()
    with moto_s3(NAME) as (endpoint, _client), \
            environment({f"AIRFLOW_CONN_{CONN_ID.upper()}": _connection(endpoint), "HTTP_PROXY": "http://127.0.0.1:9",
                         "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": None, "no_proxy": None,
                         "http_proxy": None, "https_proxy": None}), \
            caplog.at_level(logging.INFO, logger="enr.s3bulk"):
        assert Bucket(f"s3://{NAME}/pub/", conn_id=CONN_ID)._lean_client()[0] is None
    assert any("proxy" in r.getMessage() for r in caplog.records if r.name == "enr.s3bulk")
    s3bulk._told.clear()
    with moto_s3(NAME) as (endpoint, _client), \
            environment({f"AIRFLOW_CONN_{CONN_ID.upper()}": _connection(endpoint), "HTTP_PROXY": "http://127.0.0.1:9",
                         "NO_PROXY": "127.0.0.1", "no_proxy": None, "http_proxy": None}):
        assert Bucket(f"s3://{NAME}/pub/", conn_id=CONN_ID)._lean_client()[0] is not None  # bypassed: direct


def test_a_bucket_in_another_region_goes_back_to_s3fs(caplog, monkeypatch) -> None:
    """The store answers that the bucket lives elsewhere (301 PermanentRedirect, or a signature for
    the wrong region): botocore re-signs and follows, this client does not, so the bucket does the
    same requests through s3fs and keeps that path (logged)."""
    from tests.support.publish_fixtures import moto_s3

    assert s3bulk.redirected([s3bulk.RequestFailed("k", 301, "PermanentRedirect")])
    assert s3bulk.redirected([None, s3bulk.RequestFailed("k", 400, "AuthorizationHeaderMalformed")])
    assert not s3bulk.redirected([None, s3bulk.RequestFailed("k", 403, "AccessDenied")])
    with moto_s3(NAME) as (endpoint, client), \
            environment({f"AIRFLOW_CONN_{CONN_ID.upper()}": _connection(endpoint)}), \
            caplog.at_level(logging.WARNING, logger="enr.bucket"):
        bucket = Bucket(f"s3://{NAME}/pub/", conn_id=CONN_ID)
        lean = bucket._lean_client()[0]
        assert lean is not None
        monkeypatch.setattr(lean, "send_all", lambda requests: [
            s3bulk.RequestFailed(r.key, 301, "PermanentRedirect", "use the bucket's endpoint") for r in requests])
        bucket.write_many(PAGES, cache_control="no-cache")
        assert bucket._lean_client()[0] is None  # kept on the s3fs path
        bucket.copy_many({"v2/a.html": "night/a.html"})
        for key, data in PAGES.items():
            assert client.get_object(Bucket=NAME, Key=f"pub/{key}")["Body"].read() == data
        assert client.get_object(Bucket=NAME, Key="pub/v2/a.html")["Body"].read() == PAGES["night/a.html"]
    assert any("another region" in r.getMessage() or "own region" in r.getMessage() for r in caplog.records)


def test_a_session_token_is_sent_and_signed(hostile) -> None:
    server, _ = hostile([])
    with environment({f"AIRFLOW_CONN_{CONN_ID.upper()}": _connection(server.endpoint, aws_session_token="tok-123")}):
        Bucket(f"s3://{NAME}/pub/", conn_id=CONN_ID).write_many({"a.html": b"a", "b.html": b"b"})
    headers = server.seen[0][1]
    assert headers["X-Amz-Security-Token"] == "tok-123"
    assert "x-amz-security-token" in headers["Authorization"].split("SignedHeaders=")[1]


def test_on_aws_the_address_is_the_clients_own_virtual_hosted_regional_one() -> None:
    """No request is made: the address, region and addressing come from the client's endpoint ruleset."""
    plain = json.dumps({"conn_type": "aws", "login": "k", "password": "s", "extra": {"region_name": "eu-west-1"}})
    with environment({f"AIRFLOW_CONN_{CONN_ID.upper()}": plain}):
        lean = Bucket(f"s3://{NAME}/pub/", conn_id=CONN_ID)._lean_client()[0]
        dotted = Bucket("s3://enr.bulk.example/pub/", conn_id=CONN_ID)._lean_client()[0]
    assert (lean.base_url, lean.region, lean._path) == (f"https://{NAME}.s3.eu-west-1.amazonaws.com", "eu-west-1", "")
    assert dotted.base_url == "https://s3.eu-west-1.amazonaws.com/enr.bulk.example"  # as botocore: path-style
    assert lean.copy_source("pub/\u00e9t\u00e9 +.html") == f"{NAME}/pub/%C3%A9t%C3%A9%20%2B.html"


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (signed by itself)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    import ipaddress

    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls_is_verified_as_the_client_verifies_it(tmp_path: Path, monkeypatch) -> None:
    """Over https the certificate is checked against the client's CA bundle (AWS_CA_BUNDLE, as botocore
    reads it; without one, botocore's own): the store's own certificate passes, a certificate nobody vouched for is refused."""
    monkeypatch.setattr(s3bulk.time, "sleep", lambda seconds: None)
    cert, key = _self_signed(tmp_path)
    server = _Hostile([], tls=(cert, key))
    try:
        for bundle, works in ((str(cert), True), (None, False)):
            with environment({f"AIRFLOW_CONN_{CONN_ID.upper()}": _connection(server.endpoint),
                              "AWS_CA_BUNDLE": bundle, "REQUESTS_CA_BUNDLE": bundle}):
                bucket = Bucket(f"s3://{NAME}/pub/", conn_id=CONN_ID)
                assert bucket._lean_client()[0] is not None
                if works:
                    bucket.write_many({"a.html": b"a", "b.html": b"b"})
                else:
                    with pytest.raises(BucketError, match="(?i)certificate"):
                        bucket.write_many({"c.html": b"c", "d.html": b"d"})
        assert sorted(path for path, _ in server.seen) == [f"/{NAME}/pub/a.html", f"/{NAME}/pub/b.html"]
    finally:
        server.close()


def test_failures_given_up_keep_their_transient_or_final_nature_for_the_task_retries(hostile, monkeypatch) -> None:
    """The tasks' error mapping sees through the bucket's error to S3's answer: SlowDown and a refused
    connection are retried by Airflow, a denial is not (as with the s3fs path)."""
    from plugins.enr_airflow.tasks import transient_reason
    from tests.support.processes import free_port

    monkeypatch.setattr(s3bulk.time, "sleep", lambda seconds: None)
    _, bucket = hostile(["slowdown"] * 2 * s3bulk.ATTEMPTS)
    with pytest.raises(BucketError) as slow:
        bucket.write_many({"a.html": b"a", "b.html": b"b"})
    assert "503" in transient_reason(slow.value)
    server, bucket = hostile(["denied"])
    with pytest.raises(BucketError, match="AccessDenied") as denied:
        bucket.copy_many({"v2/a.html": "night/a.html"})
    assert transient_reason(denied.value) is None and len(server.seen) == 1  # not retried, here or by Airflow
    with environment({f"AIRFLOW_CONN_{CONN_ID.upper()}": _connection(f"http://127.0.0.1:{free_port()}")}):
        with pytest.raises(BucketError) as refused:
            Bucket(f"s3://{NAME}/pub/", conn_id=CONN_ID).copy_many({"a.html": "b.html", "c.html": "d.html"})
    assert "ConnectionRefusedError" in transient_reason(refused.value)


def test_a_kept_alive_connection_the_server_closed_costs_no_attempt(hostile, monkeypatch) -> None:
    monkeypatch.setattr(s3bulk, "ATTEMPTS", 1)
    server, bucket = hostile(["ok-then-close"] * 4)
    bucket.copy_many({f"v2/{n}.html": "night/a.html" for n in range(4)})  # leaves closed connections idle
    bucket.copy_many({f"v3/{n}.html": "night/a.html" for n in range(4)})
    assert len(server.seen) == 8


def test_unsafe_keys_are_refused_before_any_request(hostile) -> None:
    server, bucket = hostile([])
    for key in ("../out.html", "a//b.html", "/abs.html", "a\\b.html", "a\x00.html"):
        with pytest.raises(UnsafeKey):
            bucket.write_many({"ok.html": b"x", key: b"y"})
        with pytest.raises(UnsafeKey):
            bucket.copy_many({"ok.html": "night/a.html", "copy.html": key})
        with pytest.raises(UnsafeKey):
            bucket.copy_many({"ok.html": "night/a.html", key: "night/a.html"})
    assert server.seen == []


def test_an_unusual_client_setup_keeps_the_s3fs_path_and_says_so_once(caplog) -> None:
    from tests.support.publish_fixtures import moto_s3

    s3bulk._told.clear()
    extra = {"config_kwargs": {"tcp_keepalive": True}}
    with moto_s3(NAME) as (endpoint, client), \
            environment({f"AIRFLOW_CONN_{CONN_ID.upper()}": _connection(endpoint, **extra)}), \
            caplog.at_level(logging.INFO, logger="enr.s3bulk"):
        for _ in range(2):
            bucket = Bucket(f"s3://{NAME}/pub/", conn_id=CONN_ID)
            assert bucket._lean_client()[0] is None
            bucket.write_many(PAGES, cache_control="no-cache")
            bucket.copy_many({"v2/a.html": "night/a.html"})
        assert client.get_object(Bucket=NAME, Key="pub/v2/a.html")["CacheControl"] == "no-cache"
    told = [r.getMessage() for r in caplog.records if r.name == "enr.s3bulk"]
    assert len(told) == 1 and "tcp_keepalive" in told[0]
