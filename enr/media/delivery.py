"""Fan-out of one publication to the subscribers: plan the batches, deliver one batch.

:func:`plan` lists the subscribers a publication concerns (active, and following one of the
countries that changed, or no filter), leaves out those that already acknowledged this message
(same ``webhook-id``: a re-run sends nothing twice) and cuts them into batches; subscribers that
failed last time go to the last batches, so a dead newsroom shares a batch with other failing
ones rather than with healthy ones. :func:`deliver_batch` sends one batch **concurrently** (one
thread per subscriber, at most 64; each attempt with a short timeout, ``ENR_WEBHOOK_TIMEOUT_SECONDS``)
so that a slow or dead subscriber never delays the others, records every attempt, and disables a
subscriber whose failures in a row reached ``ENR_WEBHOOK_DISABLE_AFTER``. Called again for the same
batch (Airflow's retry of the mapped task, with exponential backoff), it re-sends only to those
that have not acknowledged yet; each attempt is signed afresh (new ``webhook-timestamp``, same id).

An attempt succeeds on a 2xx answer. Redirects are not followed (a 3xx is a failure: the URL to
call is the one registered); the body of the answer is not read beyond 1 KiB.
"""
from __future__ import annotations

import logging
import math
import queue
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

from enr.media import notification, signature
from enr.media.subscribers import Attempt, Subscriber, SubscriberRegistry

log = logging.getLogger(__name__)

MAX_THREADS = 64
USER_AGENT = "enr-webhooks/1 (Standard Webhooks)"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: D102 - a redirect is an answer, not a delivery
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[bool, int | None, str | None]:
    """POST ``body``; ``(ok, status, error)``: ok on a 2xx answer within ``timeout`` per operation."""
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "content-type": "application/json", "user-agent": USER_AGENT, **headers})
    try:
        with _OPENER.open(request, timeout=timeout) as answer:
            answer.read(1024)
            return 200 <= answer.status < 300, answer.status, None if 200 <= answer.status < 300 else \
                f"HTTP {answer.status}"
    except urllib.error.HTTPError as exc:
        return False, exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, None, f"{type(reason).__name__}: {reason}"


def plan(store, bucket, election: str, *, version: str | None = None, kind: str | None = None,
         batch_size: int = 50) -> dict:
    """The batches of subscriber ids to notify of the latest publication (of ``version``/``kind``)."""
    publication = notification.find_publication(bucket, election, version, kind)
    registry = SubscriberRegistry(store)
    everyone = registry.all()
    concerned = [s for s in everyone if s.active and s.wants(publication.countries)]
    ids = {s.id: notification.webhook_id(s.id, election, publication.version, publication.kind) for s in concerned}
    acknowledged = registry.acknowledged(ids.values())
    todo = sorted((s for s in concerned if ids[s.id] not in acknowledged),
                  key=lambda s: (s.consecutive_failures > 0, s.id))
    batches = [[s.id for s in todo[i:i + batch_size]] for i in range(0, len(todo), batch_size)]
    log.info("notify %s %s (%s): %d subscribers, %d concerned, %d already acknowledged, %d batches",
             election, publication.version, publication.kind, len(everyone), len(concerned),
             len(concerned) - len(todo), len(batches))
    return {"publication": publication.as_dict(), "batches": batches, "subscribers": len(everyone),
            "inactive": sum(1 for s in everyone if not s.active),
            "not_concerned": sum(1 for s in everyone if s.active and not s.wants(publication.countries)),
            "already_acknowledged": len(concerned) - len(todo)}


def _send(subscriber: Subscriber, msg_id: str, body: bytes, timeout: float) -> Attempt:
    at = datetime.now(timezone.utc)
    start = time.monotonic()
    ok, status, error = post(subscriber.url, body, signature.headers(subscriber.secret, msg_id, body), timeout)
    return Attempt(subscriber_id=subscriber.id, webhook_id=msg_id, ok=ok, status_code=status, error=error,
                   elapsed_ms=int((time.monotonic() - start) * 1000), at=at)


def _send_all(jobs: list[tuple[Subscriber, str, bytes]], timeout: float) -> list[Attempt]:
    """Send every job at once (at most :data:`MAX_THREADS` at a time) and wait for all of them, but
    never longer than the deadline: an endpoint trickling its answer a byte at a time (each read
    within the timeout) is recorded as failed and left behind. The sending threads are daemons, so
    one left behind never holds the task's process either."""
    results: dict[int, Attempt] = {}
    pending: queue.SimpleQueue = queue.SimpleQueue()
    for index, job in enumerate(jobs):
        pending.put((index, job))
    lock, finished = threading.Lock(), threading.Event()

    def work() -> None:
        while True:
            try:
                index, (subscriber, msg_id, body) = pending.get_nowait()
            except queue.Empty:
                return
            attempt = _send(subscriber, msg_id, body, timeout)
            with lock:
                results[index] = attempt
                if len(results) == len(jobs):
                    finished.set()

    threads = min(MAX_THREADS, len(jobs))
    deadline = math.ceil(len(jobs) / threads) * (2 * timeout + 2) if jobs else 0
    for _ in range(threads):
        threading.Thread(target=work, name="webhook", daemon=True).start()
    if jobs:
        finished.wait(deadline)
    with lock:
        out = dict(results)
    for index, (subscriber, msg_id, _) in enumerate(jobs):
        if index not in out:
            out[index] = Attempt(subscriber_id=subscriber.id, webhook_id=msg_id, ok=False, status_code=None,
                                 error=f"no complete answer within {deadline:.0f} s", elapsed_ms=int(deadline * 1000),
                                 at=datetime.now(timezone.utc))
    return [out[i] for i in range(len(jobs))]


def deliver_batch(store, publication: dict, subscriber_ids: list[str], *, base_url: str, timeout: float = 3.0,
                  disable_after: int = 10) -> dict:
    """Send ``publication`` to the subscribers of one batch that have not acknowledged it yet.

    Returns ``{"sent", "acknowledged", "already_acknowledged", "failed": {id: error}, "disabled": [ids]}``;
    the caller decides whether failures are retried (the DAG's task raises so that Airflow retries)."""
    pub = notification.Publication(**{**publication, "countries": tuple(publication["countries"])})
    registry = SubscriberRegistry(store)
    subscribers = [s for s in registry.all(ids=subscriber_ids) if s.active]
    ids = {s.id: notification.webhook_id(s.id, pub.election, pub.version, pub.kind) for s in subscribers}
    done = registry.acknowledged(ids.values())
    todo = [s for s in subscribers if ids[s.id] not in done]
    attempts = _send_all([(s, ids[s.id], notification.message(pub, s, base_url)) for s in todo], timeout)
    disabled = registry.record(attempts, election=pub.election, version=pub.version, kind=pub.kind,
                               disable_after=disable_after)
    failed = {a.subscriber_id: a.error for a in attempts if not a.ok}
    summary = {"sent": len(attempts), "acknowledged": sum(1 for a in attempts if a.ok),
               "already_acknowledged": len(subscribers) - len(todo), "failed": failed, "disabled": disabled,
               "inactive": len(subscriber_ids) - len(subscribers)}
    log.info("notify %s %s (%s) batch of %d: %d sent, %d acknowledged, %d failed, %d disabled", pub.election,
             pub.version, pub.kind, len(subscriber_ids), summary["sent"], summary["acknowledged"], len(failed),
             len(disabled))
    return summary
