"""The production auth manager: Airflow's FAB auth manager, with approval requests assigned by user name.

The approval request carries ``ENR_REVIEWERS`` as its ``assigned_users``, by Airflow user name
(``reviewer``): the names are what an operator writes in the deployment's settings and what the
UI shows. Airflow's default check compares them with ``user.get_id()``, which the simple auth
manager sets to the user name but the FAB auth manager sets to the row id (``"2"``): every
answer would be refused. This subclass also accepts the user's (unique, not self-editable) user
name. Roles decide the rest (docs/PRODUCTION.md, docker/auth/roles.json): reviewers may answer,
operators may run and re-run DAGs but not answer, viewers read.

Set it with ``AIRFLOW__CORE__AUTH_MANAGER=plugins.enr_airflow.auth.ReviewerFabAuthManager``.
"""
from __future__ import annotations

from airflow.providers.fab.auth_manager.fab_auth_manager import FabAuthManager


class ReviewerFabAuthManager(FabAuthManager):
    def is_authorized_hitl_task(self, *, assigned_users: set[str], user) -> bool:
        return user.get_id() in assigned_users or (user.get_name() or "") in assigned_users
