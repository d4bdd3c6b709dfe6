"""nginx on loopback with the project's real configuration, for tests and the load bench.

:func:`render_nginx` copies ``docker/nginx`` into a private prefix folder with its container paths
rewritten, its ``listen`` on a loopback port and its upstream on a local S3 server (every rule
as shipped); :class:`Nginx` runs Debian's nginx on it; :func:`nginx_check` is ``nginx -t``;
:func:`serving_site` does all of it for a block.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import ROOT, free_port, http_ok, stop_process, wait_for

NGINX_SRC = ROOT / "docker" / "nginx"
DEFAULT_ELECTION = "ep2019"
MISSING = "Debian's nginx is not installed (.ci/run installs nginx-light)"


def nginx_binary() -> str | None:
    return shutil.which("nginx") or (("/usr/sbin/nginx") if Path("/usr/sbin/nginx").exists() else None)


def render_nginx(prefix: Path, *, site: str = "public", port: int, upstream: str, bucket: str,
                 election: str = DEFAULT_ELECTION, access_log: bool = False, src: Path = NGINX_SRC,
                 backup_upstream: str | None = None) -> Path:
    """Copy docker/nginx into ``prefix`` with container paths rewritten; return the main conf path.

    The rewrites are only the deployment facts (paths, the listen address, the upstream hosts,
    the template variables); every rule (locations, headers, cache, failover) is the file as
    shipped. The public site's backup store is ``backup_upstream`` (it must hold ``bucket`` too);
    without one, that server line is left out.
    """
    prefix = Path(prefix)
    enr_dir, conf_d = prefix / "enr", prefix / "conf.d"
    for folder in (enr_dir, conf_d, prefix / "cache", prefix / "logs"):
        folder.mkdir(parents=True, exist_ok=True)
    for include in ("enr-site.conf", "enr-origin.conf", "enr-types.conf"):
        shutil.copy(src / include, enr_dir / include)

    template = (src / "templates" / f"{site}.conf.template").read_text()
    server = (template.replace("${ENR_EXPORT_BUCKET}", bucket).replace("${ENR_BACKUP_BUCKET}", bucket)
              .replace("${ENR_ELECTION}", election))
    upstream_host = {"public": "s3:8333", "backup": "s3-backup:8333"}[site]
    _replace_once_or_fail(server, f"server {upstream_host} ", "upstream host")
    server = server.replace(f"server {upstream_host} ", f"server {upstream} ")
    if site == "public":
        backup_line = "    server s3-backup:8333 backup;\n"
        _replace_once_or_fail(server, backup_line, "backup server")
        server = server.replace(backup_line, f"    server {backup_upstream} backup;\n" if backup_upstream else "")
    _replace_once_or_fail(server, "listen 8080 default_server;", "listen")
    server = server.replace("listen 8080 default_server;", f"listen 127.0.0.1:{port} default_server;")
    server = server.replace("/etc/nginx/enr/", f"{enr_dir}/")
    (conf_d / "default.conf").write_text(server)

    for include in ("enr-site.conf", "enr-origin.conf"):
        path = enr_dir / include
        path.write_text(path.read_text().replace("/etc/nginx/enr/", f"{enr_dir}/"))

    main = (src / "nginx.conf").read_text()
    user = _current_user()
    rewrites = {
        "user nginx;": f"user {user};",
        "pid /var/run/nginx.pid;": f"pid {prefix / 'nginx.pid'};",
        "error_log /dev/stderr warn;": f"error_log {prefix / 'logs' / 'error.log'} warn;",
        "access_log /var/log/nginx/access.log enr buffer=64k flush=5s;":
            (f"access_log {prefix / 'logs' / 'access.log'} enr buffer=64k flush=5s;" if access_log
             else "access_log off;"),
        "/var/cache/nginx/enr": str(prefix / "cache"),
        "include /etc/nginx/enr/enr-types.conf;": f"include {enr_dir / 'enr-types.conf'};",
        "include /etc/nginx/conf.d/*.conf;": f"include {conf_d}/*.conf;",
        "worker_rlimit_nofile 65535;": "worker_rlimit_nofile 16384;",
    }
    for old, new in rewrites.items():
        _replace_once_or_fail(main, old, old)
        main = main.replace(old, new)
    conf = prefix / "nginx.conf"
    conf.write_text(main)
    return conf


def _replace_once_or_fail(text: str, needle: str, what: str) -> None:
    if needle not in text:
        raise AssertionError(f"docker/nginx changed: cannot find {what!r} to rewrite for a loopback run")


def _current_user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def nginx_check(conf: Path) -> subprocess.CompletedProcess:
    """``nginx -t`` on a rendered configuration."""
    return subprocess.run([nginx_binary(), "-t", "-p", str(conf.parent), "-c", str(conf)],
                          capture_output=True, text=True, timeout=30)


@dataclass
class Nginx:
    conf: Path
    port: int
    proc: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> "Nginx":
        log = (self.conf.parent / "logs" / "nginx.out").open("ab")
        self.proc = subprocess.Popen([nginx_binary(), "-p", str(self.conf.parent), "-c", str(self.conf),
                                      "-g", "daemon off;"], stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        wait_for(lambda: self.proc.poll() is None and http_ok(f"http://127.0.0.1:{self.port}/healthz"),
                 timeout, "nginx")
        return self

    def stop(self) -> None:
        if self.proc is None:
            return
        stop_process(self.proc, first=signal.SIGQUIT, grace=10)  # graceful: finish the requests in flight
        self.proc = None

    def __enter__(self) -> "Nginx":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@contextlib.contextmanager
def serving_site(prefix: Path, **render: object) -> Iterator[int]:
    """The shipped configuration rendered into ``prefix`` (:func:`render_nginx` arguments but the
    port) and served on a free loopback port for the block; yields the port."""
    port = free_port()
    with Nginx(render_nginx(prefix, port=port, **render), port):
        yield port
