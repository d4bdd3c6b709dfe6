"""The pre-publication site inside Airflow: staged versions served to signed-in staff.

An Airflow 3 plugin (entry point ``airflow.plugins`` in pyproject.toml) whose FastAPI app the API
server mounts at ``/enr-preview``. Airflow does not authenticate plugin apps, so every route
resolves the caller from Airflow's own JWT (the UI's ``_token`` cookie or an
``Authorization: Bearer`` header) through the configured auth manager, and asks that manager
whether the caller may read the approval requests of ``election_night_publish``:

* no token, or an expired one: **401** (with a link to Airflow's login page);
* a token Airflow did not sign, or a user the auth manager does not allow: **403**.

The pages themselves come from :mod:`enr.preview` (no Airflow): the review of a version and the
exact staged bytes, each checked against the staged manifest (a changed file is refused with 409).
Staged pages are served in a CSP sandbox, so their scripts cannot act with the reviewer's session.
"""
from __future__ import annotations

import logging

from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

log = logging.getLogger(__name__)

PUBLISH_DAG = "election_night_publish"
SANDBOX = "sandbox allow-scripts allow-popups allow-popups-to-escape-sandbox"


async def reviewer_or_staff(request: Request):
    """The signed-in Airflow user allowed to read approval requests, else 401/403."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi.security import HTTPAuthorizationCredentials

    header = request.headers.get("authorization", "")
    bearer = None
    if header.lower().startswith("bearer "):
        bearer = HTTPAuthorizationCredentials(scheme="Bearer", credentials=header[7:].strip())
    user = await get_user(request, None, bearer)
    allowed = get_auth_manager().is_authorized_dag(method="GET", access_entity=DagAccessEntity.HITL_DETAIL,
                                                    details=DagDetails(id=PUBLISH_DAG), user=user)
    if not allowed:
        raise HTTPException(status_code=403, detail=f"{user.get_name()} may not read {PUBLISH_DAG}'s approval requests")
    return user


def create_app() -> FastAPI:
    from enr import preview

    app = FastAPI(title="Pre-publication site", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException):
        if exc.status_code == 401:
            try:
                from airflow.api_fastapi.app import get_auth_manager

                login = get_auth_manager().get_url_login(next_url=str(request.url))
            except Exception:  # noqa: BLE001 - the page still says what to do
                login = "/"
            body = (f'<!doctype html><html lang="en"><title>Sign in</title><p>{exc.detail}: '
                    f'<a href="{login}">sign in to Airflow</a> to see the pre-publication site.</p></html>')
            return HTMLResponse(body, status_code=401)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    def _errors(fn, *args):
        try:
            return fn(*args)
        except preview.NotFound as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from exc
        except preview.TamperedStaging as exc:
            log.error("pre-publication site: %s", exc)
            raise HTTPException(status_code=409, detail=str(exc)) from exc

    @app.get("/", response_class=HTMLResponse)
    def index(user=Depends(reviewer_or_staff)):
        return HTMLResponse(preview.render_index())

    @app.get("/{election}/{version}/", response_class=HTMLResponse)
    def review(election: str, version: str, user=Depends(reviewer_or_staff)):
        facts = _errors(preview.review, election, version)
        return HTMLResponse(preview.render_review(facts), headers={"Cache-Control": "no-store"})

    @app.get("/{election}/{version}/review.json")
    def review_json(election: str, version: str, user=Depends(reviewer_or_staff)):
        facts = _errors(preview.review, election, version)
        facts["embargo"] = {"at": facts["embargo"].at.isoformat(), "passed": facts["embargo"].passed,
                            "text": facts["embargo"].text()}
        return JSONResponse(facts, headers={"Cache-Control": "no-store"})

    @app.get("/{election}/{version}/site/{path:path}")
    def staged(election: str, version: str, path: str, user=Depends(reviewer_or_staff)):
        data, kind = _errors(preview.staged_file, election, version, path)
        return Response(data, media_type=kind, headers={"Content-Security-Policy": SANDBOX,
                                                        "X-Content-Type-Options": "nosniff",
                                                        "Cache-Control": "no-store"})

    @app.get("/{election}/{version}/report/{kind}/{key:path}")
    def report(election: str, version: str, kind: str, key: str, user=Depends(reviewer_or_staff)):
        data = _errors(preview.validation_report, election, kind, key)
        return Response(data, media_type="text/html", headers={"Content-Security-Policy": SANDBOX,
                                                               "X-Content-Type-Options": "nosniff"})

    return app


class PrePublicationPlugin(AirflowPlugin):
    name = "enr_prepublication"
    fastapi_apps = [{"app": create_app(), "url_prefix": "/enr-preview", "name": "Pre-publication site"}]
    external_views = [{"name": "Pre-publication site", "href": "/enr-preview/", "destination": "nav",
                       "category": "browse"}]
