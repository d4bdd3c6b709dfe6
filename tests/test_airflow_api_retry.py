"""`enr`'s Airflow API client tries a repeatable call again after a server error, never a trigger.

The API server on SQLite answers HTTP 500 "Database error" while the scheduler holds the database;
an unpause or an approval's answer then succeeds when sent again, a DAG run must never be
triggered twice. A loopback server plays the API: it fails the first requests as told.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from enr import airflow_api
from enr.airflow_api import AirflowAPI, AirflowAPIError


class _Server:
    def __init__(self) -> None:
        self.failures: list[int] = []  # statuses to answer, in order, before answering 200
        self.seen: list[tuple[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                outer.seen.append((self.command, self.path))
                if self.path == "/auth/token":
                    status, body = 201, {"access_token": "t"}
                elif outer.failures:
                    status, body = outer.failures.pop(0), {"detail": "Database error"}
                else:
                    status, body = 200, {"dag_run_id": "r1", "state": "success", "hitl_details": []}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = _answer

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def calls(self, method: str) -> int:
        return sum(1 for m, path in self.seen if m == method and path != "/auth/token")


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setattr(airflow_api, "RETRY_PAUSE", 0.01)
    served = _Server()
    yield served
    served.httpd.shutdown()
    served.httpd.server_close()


def test_an_unpause_and_an_answer_are_sent_again_after_a_server_error(server):
    api = AirflowAPI(server.url, "operator", "secret")
    server.failures = [500, 503]
    api.unpause("election_night_ingest")
    assert server.calls("PATCH") == 3  # two server errors, then done
    server.failures = [500]
    detail = {"task_instance": {"dag_id": "election_night_publish", "dag_run_id": "r", "task_id": "approve"}}
    api.answer(detail, "Approve")
    assert server.calls("PATCH") == 5
    server.failures = [502]
    assert api.run_state("election_night_ingest", "r1") == "success"


def test_a_persistent_server_error_is_raised_after_the_last_attempt(server):
    api = AirflowAPI(server.url, "operator", "secret")
    server.failures = [500] * 10
    with pytest.raises(AirflowAPIError) as raised:
        api.unpause("election_night_ingest")
    assert raised.value.status == 500 and "Database error" in str(raised.value)
    assert server.calls("PATCH") == airflow_api.ATTEMPTS


def test_a_trigger_and_a_refusal_are_never_sent_twice(server):
    api = AirflowAPI(server.url, "operator", "secret")
    server.failures = [500]
    with pytest.raises(AirflowAPIError):
        api.trigger("election_night_ingest", {})
    assert server.calls("POST") == 1  # a run must not be triggered twice
    server.failures = [403]
    with pytest.raises(AirflowAPIError) as raised:
        api.unpause("election_night_ingest")
    assert raised.value.status == 403 and server.calls("PATCH") == 1  # a refusal is an answer
