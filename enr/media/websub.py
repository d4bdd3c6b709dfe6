"""WebSub (W3C Recommendation, 2018): the Atom feed names a hub; each publication pings it.

A WebSub *publisher* does two things, and this project does only those (it is not a hub):

1. its feed ``public/<election>/publications.atom`` carries ``<link rel="hub" href="HUB">`` and
   ``<link rel="self" href="TOPIC">`` (the feed's own absolute URL) when ``ENR_WEBSUB_HUB`` is set
   (:func:`publish.feeds.websub_links` reads it when the feed is written);
2. after each publication or rollback it tells the hub that the topic changed: a form POST
   ``hub.mode=publish&hub.url=TOPIC`` (the "publish ping" most hubs accept, e.g. Google's
   https://pubsubhubbub.appspot.com/ or a self-hosted WebSub hub, docs/MEDIA.md). The hub then
   fetches the feed and pushes it to its subscribers.

A ping that fails is reported and does not fail the publication: readers still get the webhooks
and can poll the feed.
"""
from __future__ import annotations

import logging
import urllib.parse

from enr.media.delivery import post

log = logging.getLogger(__name__)


def topic_url(base_url: str, election: str) -> str:
    """The feed's absolute URL (the WebSub topic)."""
    return f"{base_url.rstrip('/')}/{election}/publications.atom"


def ping(hub: str, topic: str, timeout: float = 3.0) -> dict:
    """Tell ``hub`` that ``topic`` changed; ``{"hub", "topic", "ok", "status", "error"}``."""
    body = urllib.parse.urlencode({"hub.mode": "publish", "hub.url": topic}).encode("ascii")
    ok, status, error = post(hub, body, {"content-type": "application/x-www-form-urlencoded"}, timeout)
    (log.info if ok else log.warning)("WebSub ping %s for %s: %s", hub, topic, status or error)
    return {"hub": hub, "topic": topic, "ok": ok, "status": status, "error": error}
