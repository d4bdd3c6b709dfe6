"""Which failures Airflow retries: transient infrastructure errors only (plugins/enr_airflow/tasks.py).

Fast (no servers): the classification of real exception objects from the libraries the tasks use,
the wrapper the task bodies run the pipeline in, and the DAGs' retry settings with the policy
Airflow evaluates on the worker.
"""
from __future__ import annotations

import errno

import pytest


def _sqlalchemy_operational_error():
    import sqlalchemy

    engine = sqlalchemy.create_engine("postgresql+psycopg2://nobody:x@127.0.0.1:1/none",
                                      connect_args={"connect_timeout": 2})
    with pytest.raises(sqlalchemy.exc.OperationalError) as caught:
        engine.connect()
    return caught.value


def _s3_unreachable():
    import boto3
    import botocore.exceptions
    from botocore.config import Config

    client = boto3.client("s3", endpoint_url="http://127.0.0.1:1", aws_access_key_id="k", aws_secret_access_key="s",
                          region_name="us-east-1", config=Config(retries={"max_attempts": 1}, connect_timeout=1))
    with pytest.raises(botocore.exceptions.EndpointConnectionError) as caught:
        client.list_buckets()
    return caught.value


def _s3_answer(status: int, code: str):
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "PutObject")


def test_transient_infrastructure_errors_are_recognised_through_their_causes():
    from plugins.enr_airflow.tasks import transient_reason

    database = _sqlalchemy_operational_error()
    assert "results store" in transient_reason(database)
    assert "object store" in transient_reason(_s3_unreachable())
    assert transient_reason(_s3_answer(503, "SlowDown"))
    assert transient_reason(_s3_answer(500, "InternalError"))
    assert transient_reason(ConnectionRefusedError(errno.ECONNREFUSED, "refused"))
    try:  # wrapped, as s3fs or the pipeline re-raise: the cause is what counts
        try:
            raise database
        except Exception as exc:
            raise RuntimeError("store step failed") from exc
    except RuntimeError as wrapped:
        assert transient_reason(wrapped)


def test_data_errors_disk_full_and_denials_are_not_transient():
    from enr import pipeline
    from plugins.enr_airflow.tasks import transient_reason

    assert transient_reason(OSError(errno.ENOSPC, "No space left on device")) is None
    assert transient_reason(_s3_answer(403, "AccessDenied")) is None
    assert transient_reason(_s3_answer(404, "NoSuchKey")) is None
    assert transient_reason(FileNotFoundError("staging/ep2019/v0001/manifest.json")) is None
    assert transient_reason(pipeline.TallyRefused("test and real data would mix")) is None
    assert transient_reason(ValueError("a bug")) is None


def test_the_task_wrapper_turns_only_transient_errors_into_the_retryable_one():
    from plugins.enr_airflow.tasks import TransientInfrastructureError, infrastructure_errors

    database = _sqlalchemy_operational_error()
    with pytest.raises(TransientInfrastructureError) as retryable:
        with infrastructure_errors("ingest ep2019 FR"):
            raise database
    assert retryable.value.__cause__ is database and "ingest ep2019 FR" in str(retryable.value)
    with pytest.raises(ValueError):
        with infrastructure_errors("ingest ep2019 FR"):
            raise ValueError("a bug")


def test_the_night_dags_retry_transient_errors_only_with_backoff():
    from pathlib import Path

    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk.definitions.retry_policy import RetryAction

    from plugins.enr_airflow.tasks import TransientInfrastructureError

    bag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags"))
    assert bag.import_errors == {}
    checked = 0
    for dag_id, task_id in (("election_night_ingest", "ingest"), ("election_night_ingest", "tally"),
                            ("election_night_ingest", "stage"), ("election_night_ingest", "backups"),
                            ("election_night_publish", "publish"), ("election_night_publish", "describe")):
        task = bag.dags[dag_id].get_task(task_id)
        assert task.retries >= 3, (dag_id, task_id, task.retries)
        assert task.retry_exponential_backoff >= 2 and task.retry_delay.total_seconds() > 0
        policy = task.retry_policy
        assert policy.evaluate(TransientInfrastructureError("store"), 1, task.retries + 1).action == RetryAction.RETRY
        assert policy.evaluate(ValueError("a bug"), 1, task.retries + 1).action == RetryAction.FAIL
        assert policy.evaluate(OSError(errno.ENOSPC, "full"), 1, task.retries + 1).action == RetryAction.FAIL
        checked += 1
    assert checked == 6
