"""The bucket read policy (publish/read_policy.py) and the policy a new bucket starts with.

The policy is what keeps a version staged in place under ``public/`` unreadable until it is
published (tests/attacks/test_attack_s3_staging.py attacks it on a real S3 server); here its
document rules: only the publisher's statement grows, nothing else is touched, a grant that does
not hold is an error, and the initial policy never grants a whole prefix.
"""
from __future__ import annotations

import copy

import pytest

from publish import read_policy
from enr.production import _key_prefix, public_read_policy

OTHER = {"Sid": "OpsRead", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:role/ops"},
         "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/*"]}


class PolicyStore:
    """An object store's policy API as the publisher sees it (``lose`` writes are dropped, as when
    another writer's read-modify-write overtakes this one)."""

    def __init__(self, document: dict | None = None, lose: int = 0):
        self.document, self.lose, self.writes = copy.deepcopy(document), lose, 0
        self.url = "s3://b/"

    def arn(self, key: str) -> str:
        return f"arn:aws:s3:::b/{key}"

    def read_policy(self):
        return copy.deepcopy(self.document)

    def write_policy(self, document: dict) -> None:
        self.writes += 1
        if self.lose:
            self.lose -= 1
            return
        self.document = copy.deepcopy(document)


def test_a_grant_adds_to_the_publishers_statement_only():
    store = PolicyStore({"Version": "2012-10-17", "Statement": [OTHER]})
    assert read_policy.grant(store, ["public/ep2019/v0001/*", "public/ep2019/current.json"])
    statements = store.document["Statement"]
    assert OTHER in statements  # someone else's statement is kept as it was
    assert read_policy.granted(store.document) == {"arn:aws:s3:::b/public/ep2019/v0001/*",
                                                   "arn:aws:s3:::b/public/ep2019/current.json"}
    read_policy.grant(store, ["public/ep2019/v0002/*"])
    assert "arn:aws:s3:::b/public/ep2019/v0001/*" in read_policy.granted(store.document)  # only ever grows
    writes = store.writes
    assert not read_policy.grant(store, ["public/ep2019/v0002/*"])  # already granted: no write
    assert store.writes == writes


def test_a_lost_grant_is_written_again_and_one_that_never_holds_is_an_error():
    store = PolicyStore(None, lose=1)
    assert read_policy.grant(store, ["public/ep2019/v0001/*"])
    assert store.writes == 2 and "arn:aws:s3:::b/public/ep2019/v0001/*" in read_policy.granted(store.document)
    with pytest.raises(read_policy.ReadPolicyError, match="does not keep the grant"):
        read_policy.grant(PolicyStore(None, lose=10), ["public/ep2019/v0001/*"])


def test_the_policy_of_a_new_bucket_grants_the_pointer_files_and_nothing_else():
    policy = public_read_policy("enr-export", elections=("ep2019", "ep2024"), key_prefix="night/")
    resources = read_policy.granted(policy)
    assert resources == {f"arn:aws:s3:::enr-export/night/public/{e}/{name}" for e in ("ep2019", "ep2024")
                         for name in ("current.json", "index.html", "publications.json", "publications.atom")}
    assert not any(r.endswith("*") for r in resources)  # no prefix: a staged version is never covered
    assert [s["Action"] for s in policy["Statement"]] == [["s3:GetObject"]]
    assert _key_prefix("s3://enr_export_bucket@enr-export/night/") == "night/"
    assert _key_prefix("s3://enr-export") == ""
