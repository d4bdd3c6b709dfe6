"""The production layout in docker/, checked without a container engine.

(a) ``docker/compose.yaml`` against the compose-spec JSON schema (check-jsonschema's vendored
    copy), plus the layout's own rules: pinned images, health checks or completion conditions,
    loopback-only ports, no secret in any file, every variable documented in ``.env.example``;
(b) ``nginx -t`` (Debian's nginx) on the real ``docker/nginx`` configuration of both sites,
    with only the container paths, the listen address and the upstream host rewritten;
(c) that configuration served by nginx on a loopback port in front of a real S3 server
    (SeaweedFS) holding a published folder: the cache headers of a versioned file, of
    ``current.json``, of the feeds, revalidation with ETag, and what must stay unreachable.
"""
from __future__ import annotations

import http.client
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / ".env.example"

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=5, must-revalidate"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


def _check_jsonschema() -> str | None:
    candidate = Path(sys.executable).with_name("check-jsonschema")
    return str(candidate) if candidate.exists() else shutil.which("check-jsonschema")


# -- (a) compose ------------------------------------------------------------------------------------

def test_compose_file_matches_the_compose_spec_schema():
    tool = _check_jsonschema()
    if tool is None:
        pytest.skip("check-jsonschema is not installed (it belongs to the `test` extra)")
    result = subprocess.run([tool, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_image_is_pinned_and_the_project_image_is_built_from_the_repo(compose):
    for name, service in compose["services"].items():
        image = service.get("image")
        assert image, f"{name}: no image"
        if "${" in image:
            assert image.startswith("${ENR_IMAGE"), name
            continue
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest" and re.search(r"\d", tag), f"{name}: image {image!r} is not pinned"
    built = [n for n, s in compose["services"].items() if "build" in s]
    assert built == ["init"] and compose["services"]["init"]["build"]["dockerfile"] == "docker/Dockerfile"
    dockerfile = (DOCKER / "Dockerfile").read_text()
    base = re.search(r"^FROM\s+(\S+)", dockerfile, re.M).group(1)
    assert re.fullmatch(r"[\w./-]+:\d[\w.-]*", base), f"base image {base!r} is not pinned"
    assert '-c constraints.txt -e ".[production]"' in dockerfile
    assert re.search(r"^USER\s+\$\{ENR_UID\}|^USER\s+\d+", dockerfile, re.M), "the image must not run as root"


def test_every_service_is_health_checked_and_waited_for(compose):
    services = compose["services"]
    one_shots = {name for name, s in services.items() if s.get("restart") == "no"}
    for name, service in services.items():
        if name in one_shots:
            continue
        check = service.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name}: no health check"
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on must use conditions"
        for other, rule in depends.items():
            assert other in services, f"{name} depends on unknown {other}"
            expected = "service_completed_successfully" if other in one_shots else "service_healthy"
            assert rule.get("condition") == expected, f"{name} -> {other}: {rule}"
    # The one-shot init is what every Airflow component and site waits for.
    assert one_shots == {"init"}
    for name in services:
        if name.startswith("airflow-") or name.startswith("site"):
            assert "init" in services[name]["depends_on"], name


def test_ports_bind_to_loopback_by_default_and_internal_services_publish_none(compose, env_example):
    assert env_example["ENR_PUBLIC_BIND"] == "127.0.0.1"
    published = {}
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert isinstance(port, str), f"{name}: use the string form with a bind address"
            assert port.startswith("127.0.0.1:") or port.startswith("${ENR_PUBLIC_BIND:-127.0.0.1}:"), \
                f"{name}: {port} is not bound to loopback"
            published[name] = port
    assert set(published) == {"airflow-apiserver", "site", "site-backup"}, published
    for internal in ("postgres", "redis", "s3", "s3-backup"):
        assert "ports" not in compose["services"][internal]


def test_celery_layout_two_workers_postgres_and_redis(compose):
    services = compose["services"]
    env = services["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://airflow:")
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://")
    assert env["ENR_STORE_URL"].startswith("postgresql+psycopg2://results:") and env["ENR_STORE_URL"].endswith("/results")
    assert env["ENR_BUCKET_URL"].startswith("s3://") and env["ENR_BACKUP_BUCKET_URL"].startswith("s3://")
    workers = {n: s for n, s in services.items() if s.get("command", [None])[:2] == ["celery", "worker"]}
    assert len(workers) >= 2
    names = [s["command"][s["command"].index("-H") + 1] for s in workers.values()]
    assert len(set(names)) == len(names), names
    signing = {n for n, s in workers.items()
               if "--queues" in s["command"] and s["command"][s["command"].index("--queues") + 1] == "signing"}
    assert signing == {"airflow-worker-signing"}, signing
    assert env["ENR_SIGNING_QUEUE"] == "signing"
    for name, service in services.items():  # the senders' keyring read-only everywhere; the signing key on one worker
        mounts = [v for v in service.get("volumes", []) if "/opt/enr-keys/" in v]
        assert all(v.endswith(":ro") for v in mounts), (name, mounts)
        assert any("/opt/enr-keys/signing" in v for v in mounts) == (name in signing), (name, mounts)
    for name in set(workers) - signing:
        assert any("/opt/enr-keys/trusted" in v for v in workers[name]["volumes"]), name
    assert "enr_signing_passphrase" in services["airflow-worker-signing"]["secrets"]
    assert services["init"]["environment"]["ENR_STORE_OWNER_URL"].startswith("postgresql+psycopg2://results_owner:")
    for component in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"):
        assert component in services
    # Two databases on one server: the init script creates both, each with its own owner.
    init_sql = (DOCKER / "postgres" / "10-enr-databases.sh").read_text()
    assert "CREATE DATABASE airflow OWNER airflow" in init_sql
    assert "CREATE DATABASE results OWNER results_owner" in init_sql
    assert "CREATE ROLE results LOGIN" in init_sql and "GRANT CONNECT ON DATABASE results TO results;" in init_sql


def _interpolate(text: str, values: dict[str, str]) -> str:
    def sub(match: re.Match) -> str:
        name, default = match.group(1), match.group(3)
        if name in values:
            return values[name]
        assert default is not None, f"${{{name}}} has no value in .env.example and no default"
        return default

    return re.sub(r"\$\{([A-Z0-9_]+)(:?[-?]([^}]*))?\}", sub, text.replace("$$", "\x00")).replace("\x00", "$")


def test_every_variable_is_documented_and_the_s3_connections_are_json(compose, env_example):
    raw = COMPOSE.read_text()
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", raw.replace("$$", "")))
    missing = sorted(used - set(env_example))
    assert not missing, f"variables of compose.yaml missing from .env.example: {missing}"
    rendered = yaml.safe_load(_interpolate(raw, env_example))
    env = rendered["services"]["airflow-worker-1"]["environment"]
    for conn in ("AIRFLOW_CONN_ENR_EXPORT_BUCKET", "AIRFLOW_CONN_ENR_BACKUP_BUCKET"):
        parsed = json.loads(env[conn])
        assert parsed["conn_type"] == "aws" and parsed["extra"]["endpoint_url"].startswith("http://s3")
    assert env["ENR_BUCKET_URL"] == "s3://enr_export_bucket@enr-export/"


def test_no_secret_is_committed(env_example):
    secret_like = re.compile(r"PASSWORD|SECRET|FERNET|ACCESS_KEY|_KEY$")
    for key, value in env_example.items():
        if secret_like.search(key):
            assert value.startswith("change-me"), f".env.example {key} must be a placeholder"
    raw = COMPOSE.read_text()
    for line in raw.splitlines():
        if re.search(r"(PASSWORD|SECRET|password)\b\s*[:=]", line) and "${" not in line:
            raise AssertionError(f"literal secret in compose.yaml: {line.strip()}")
    for path in DOCKER.rglob("*"):
        if path.is_file():
            assert "BEGIN PGP PRIVATE KEY" not in path.read_text(errors="ignore"), path


def test_bind_mounted_files_exist(compose):
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (DOCKER / source).exists(), f"{name}: {source} does not exist"
    assert compose["services"]["init"]["entrypoint"][-3:] == ["enr", "production", "init"]
    assert (DOCKER / "Dockerfile.dockerignore").exists()


# -- (b) nginx -t -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def nginx_bin():
    from tests.support.nginx import MISSING, nginx_binary

    binary = nginx_binary()
    if binary is None:
        pytest.skip(MISSING)
    return binary


@pytest.mark.parametrize("site", ["public", "backup"])
def test_nginx_accepts_the_real_configuration(nginx_bin, tmp_path, site):
    from tests.support.nginx import nginx_check, render_nginx
    from tests.support.processes import free_port

    conf = render_nginx(tmp_path / site, site=site, port=free_port(), upstream="127.0.0.1:9", bucket=f"enr-{site}")
    result = nginx_check(conf)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


# -- (c) nginx in front of a real S3 server ------------------------------------------------------------

@pytest.fixture(scope="module")
def served_site(nginx_bin, tmp_path_factory):
    from enr.production import public_read_policy
    from tests.support.nginx import serving_site
    from tests.support.s3 import SeaweedS3, skip_without_seaweed

    skip_without_seaweed()
    base = tmp_path_factory.mktemp("site")
    s3 = SeaweedS3(base / "s3").start()
    try:
        client = s3.client()
        objects = {
            "public/ep2019/v0001/en/index.html": b"<!DOCTYPE html><title>v0001</title>",
            "public/ep2019/v0001/data/eu.json": json.dumps({"version": "v0001", "rows": list(range(400))}).encode(),
            "public/ep2019/v0001/data/eu.csv": b"election,version\nep2019,v0001\n",
            "public/ep2019/v0001/manifest.json": b'{"version": "v0001"}',
            "public/ep2019/current.json": b'{"version": "v0001", "manifest_sha256": "00"}',
            "public/ep2019/publications.atom": b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"/>',
            "public/ep2019/index.html": b'<meta http-equiv="refresh" content="0; url=v0001/en/index.html">',
            "staging/ep2019/v0002/data/eu.json": b'{"embargoed": true}',
            # staged in place for review (the S3 layout), not granted: unreadable until published
            "public/ep2019/v0002/data/eu.json": b'{"embargoed": true}',
        }
        for key, body in objects.items():
            # No Content-Type on purpose: the site must not depend on what the writer set.
            client.put_object(Bucket="enr-export", Key=key, Body=body)
        # v0001 is published: granted in the read policy as publish/read_policy.py does at publication
        from publish import read_policy

        policy = read_policy.with_grants(public_read_policy("enr-export"),
                                         ["arn:aws:s3:::enr-export/public/ep2019/v0001/*"])
        client.put_bucket_policy(Bucket="enr-export", Policy=json.dumps(policy))
        with serving_site(base / "nginx", upstream=f"127.0.0.1:{s3.s3_port}", bucket="enr-export",
                          access_log=True) as port:
            yield {"port": port, "s3": s3, "objects": objects}
    finally:
        s3.stop()


def _get(port: int, path: str, headers: dict | None = None, method: str = "GET"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def test_versioned_files_are_immutable_for_a_year(served_site):
    port, objects = served_site["port"], served_site["objects"]
    status, headers, body = _get(port, "/ep2019/v0001/data/eu.json")
    assert status == 200 and body == objects["public/ep2019/v0001/data/eu.json"]
    assert headers["cache-control"] == IMMUTABLE
    assert headers["content-type"] == "application/json"
    assert headers["etag"]
    assert headers.get("access-control-allow-origin") == "*"
    assert not any(h.startswith("x-amz") or h.startswith("seaweed") for h in headers), headers
    status, headers, _ = _get(port, "/ep2019/v0001/data/eu.json", {"If-None-Match": headers["etag"]})
    assert status == 304 and headers["cache-control"] == IMMUTABLE
    status, headers, body = _get(port, "/ep2019/v0001/en/")
    assert status == 200 and b"v0001" in body and headers["content-type"].startswith("text/html")
    assert headers["cache-control"] == IMMUTABLE
    status, headers, _ = _get(port, "/ep2019/v0001/data/eu.csv")
    assert status == 200 and headers["content-type"].startswith("text/csv")


def test_pointer_index_and_feed_are_short_lived_and_revalidated(served_site):
    port = served_site["port"]
    for path, kind in (("/ep2019/current.json", "application/json"),
                       ("/ep2019/publications.atom", "application/atom+xml"),
                       ("/ep2019/", "text/html")):
        status, headers, _ = _get(port, path)
        assert status == 200, path
        assert headers["cache-control"] == SHORT, path
        assert headers["content-type"].startswith(kind), path
        assert headers["etag"], path
        status, again, _ = _get(port, path, {"If-None-Match": headers["etag"]})
        assert status == 304, path


def test_pointer_flip_reaches_readers_within_seconds(served_site):
    import time

    port, s3 = served_site["port"], served_site["s3"]
    s3.client().put_object(Bucket="enr-export", Key="public/ep2019/current.json", Body=b'{"version": "v0002"}')
    end = time.monotonic() + 10
    while time.monotonic() < end:
        if b"v0002" in _get(port, "/ep2019/current.json")[2]:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the new pointer was not served within 10 s")


def test_redirects_errors_and_what_stays_private(served_site):
    port, s3 = served_site["port"], served_site["s3"]
    status, headers, _ = _get(port, "/")
    assert status == 302 and headers["location"] == "/ep2019/"
    status, headers, _ = _get(port, "/ep2019")
    assert status == 301 and headers["location"] == "/ep2019/"
    status, headers, _ = _get(port, "/ep2019/v0009/data/eu.json")
    assert status == 404 and "immutable" not in headers.get("cache-control", "")
    # Only public/ is served: staging (embargoed, not approved) is out of reach through the site...
    assert _get(port, "/staging/ep2019/v0002/data/eu.json")[0] == 404
    assert _get(port, "/ep2019/v0002/data/eu.json")[0] == 404  # staged in place, not granted
    assert _get(port, "/ep2019/../staging/ep2019/v0002/data/eu.json")[0] in (400, 404)
    # ...and through the bucket's anonymous access.
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(f"{s3.endpoint}/enr-export/staging/ep2019/v0002/data/eu.json", timeout=5)
    assert denied.value.code == 403
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(f"{s3.endpoint}/enr-export/public/ep2019/v0002/data/eu.json", timeout=5)
    assert denied.value.code == 403
    assert _get(port, "/ep2019/current.json", method="POST")[0] == 405
    assert _get(port, "/ep2019/current.json", method="DELETE")[0] == 405
