"""A small client of Airflow's REST API v2, for the operator's `enr` command.

`enr` never reaches into Airflow's internals: it asks the API server, like a reviewer's
browser does. Standard library only (urllib); every call has a timeout.
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field


class AirflowAPIError(RuntimeError):
    def __init__(self, method: str, url: str, status: int, body: str):
        super().__init__(f"{method} {url} -> HTTP {status}: {body[:500]}")
        self.status = status
        self.body = body


ATTEMPTS = 3  # in all, for a call that may be repeated (see AirflowAPI._request)
RETRIED = frozenset({500, 502, 503, 504})
RETRY_PAUSE = 0.5  # seconds, times the attempt's number


@dataclass
class AirflowAPI:
    base_url: str
    username: str  # no default user or password: each caller names whom it acts as
    password: str
    timeout: float = 30.0
    _token: str | None = field(default=None, repr=False)

    # -- plumbing -----------------------------------------------------------------------------
    def _request(self, method: str, path: str, payload: dict | None = None, *, auth: bool = True,
                 query: dict | None = None, retry: bool = False) -> dict:
        """One API call. ``retry``: a call that may be repeated without changing its effect (a read,
        an unpause, an approval's answer) is tried again when the server answers 500, 502, 503 or
        504, up to :data:`ATTEMPTS` times in all (the API server on SQLite answers "Database error"
        while the database is locked by the scheduler); any other answer, and every error of a call
        that must not run twice (triggering a run), is raised at once."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return self._once(method, path, payload, auth=auth, query=query)
            except AirflowAPIError as exc:
                if not retry or exc.status not in RETRIED or attempt == ATTEMPTS:
                    raise
                time.sleep(RETRY_PAUSE * attempt)
        raise AssertionError("unreachable")

    def _once(self, method: str, path: str, payload: dict | None, *, auth: bool, query: dict | None) -> dict:
        url = self.base_url.rstrip("/") + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if auth:
            request.add_header("Authorization", f"Bearer {self.token()}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read().decode() or "{}"
                return json.loads(body)
        except urllib.error.HTTPError as exc:
            raise AirflowAPIError(method, url, exc.code, exc.read().decode(errors="replace")) from exc

    def token(self) -> str:
        if self._token is None:
            answer = self._request("POST", "/auth/token", {"username": self.username, "password": self.password},
                                   auth=False, retry=True)
            self._token = answer["access_token"]
        return self._token

    def healthy(self) -> bool:
        try:
            health = self._request("GET", "/api/v2/monitor/health", auth=False)
        except (OSError, AirflowAPIError):
            return False
        return health.get("metadatabase", {}).get("status") == "healthy"

    def wait_healthy(self, timeout: float = 90.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.healthy():
                return
            time.sleep(0.5)
        raise TimeoutError(f"Airflow API at {self.base_url} not healthy after {timeout:.0f} s")

    # -- DAG runs -----------------------------------------------------------------------------
    def trigger(self, dag_id: str, conf: dict) -> str:
        answer = self._request("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})
        return answer["dag_run_id"]

    def unpause(self, dag_id: str) -> None:
        self._request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False}, retry=True)

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id)}", retry=True)["state"]

    # -- human in the loop --------------------------------------------------------------------
    def pending_approvals(self, dag_id: str = "election_night_publish") -> list[dict]:
        answer = self._request("GET", "/api/v2/dags/~/dagRuns/~/hitlDetails",
                               query={"response_received": "false", "dag_id_pattern": dag_id}, retry=True)
        return answer.get("hitl_details", [])

    def answer(self, detail: dict, option: str) -> dict:
        ti = detail["task_instance"]
        path = (f"/api/v2/dags/{ti['dag_id']}/dagRuns/{urllib.parse.quote(ti['dag_run_id'])}/taskInstances/"
                f"{ti['task_id']}/{ti.get('map_index', -1)}/hitlDetails")
        return self._request("PATCH", path, {"chosen_options": [option], "params_input": {}}, retry=True)

    @staticmethod
    def is_waiting(detail: dict) -> bool:
        """The approval task of ``detail`` is parked for input. Answer a waiting one: an answer written
        while the task is still parking is recorded but wakes nothing at once (Airflow 3.3.2 on
        SQLite); the gate (``plugins/enr_airflow/approval.py``) then finds it only at its next
        re-check under a scheduler (up to a minute later), and under ``airflow dags test`` never."""
        return (detail.get("task_instance") or {}).get("state") == "awaiting_input"

    def approvals_for(self, version: str | None = None) -> list[dict]:
        """Pending approvals, newest first; with ``version``, only the ones naming it in the subject."""
        pending = self.pending_approvals()
        if version:
            pending = [d for d in pending if f" {version}?" in (d.get("subject") or "")]
        return sorted(pending, key=lambda d: d.get("created_at") or "", reverse=True)
