"""The hash chain over audit events (ADR 0008): how a row is hashed, and how the whole chain is verified."""

import datetime
import hashlib
import json
import time
from dataclasses import dataclass

from fengqiao.audit.models import AuditEvent, ChainHead

# The columns covered by a row's hash, in a fixed order. Adding a column to AuditEvent means adding it here
# (and changing HASH_VERSION) — a test fails when a concrete field is neither hashed nor listed as unhashed.
HASHED_FIELDS = (
    "occurred_at",
    "actor_id",
    "actor_label",
    "action",
    "event_type",
    "area",
    "object_type",
    "object_id",
    "summary",
    "data",
    "before",
    "after",
    "request_id",
    "client_address",
)
UNHASHED_FIELDS = ("id", "prev_hash", "hash")
HASH_VERSION = "1"


def canonical_timestamp(value):
    return value.astimezone(datetime.UTC).isoformat(timespec="microseconds")


def canonical(values):
    """The row's hashed fields as canonical JSON (sorted keys, no spaces, UTF-8, timestamps in UTC)."""
    plain = dict(values)
    plain["occurred_at"] = canonical_timestamp(plain["occurred_at"])
    plain["v"] = HASH_VERSION
    return json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def row_hash(prev_hash, values):
    return hashlib.sha256((prev_hash + canonical(values)).encode()).hexdigest()


def head(lock=False):
    """The chain head (created on first use). With `lock`, the row is locked until the transaction ends."""
    queryset = ChainHead.objects.select_for_update() if lock else ChainHead.objects
    return queryset.get_or_create(pk=1)[0]


@dataclass
class Verification:
    checked: int
    seconds: float
    bad_id: int | None = None
    problem: str = ""  # edited | inserted | deleted-before | deleted | anchor
    detail: str = ""

    @property
    def ok(self):
        return self.bad_id is None


def _next_row(row_id):
    return AuditEvent.objects.filter(id__gt=row_id).order_by("id").values_list("id", "prev_hash").first()


def _classify(row_id, prev, self_ok, expected, chain_head, previous):
    """Why row `row_id` fails; `previous` is (id, prev_hash) of the last good row. Returns (bad id, problem, detail)."""
    if row_id <= chain_head.anchor_id:
        return row_id, "inserted", f"the row is older than the anchor (row {chain_head.anchor_id}, pruned)"
    following = _next_row(row_id)
    if following is not None and following[1] == expected:
        return row_id, "inserted", f"row {following[0]} links past it to the row before"
    if not self_ok and prev == expected:
        return row_id, "edited", "its content does not match its hash"
    if self_ok and previous is not None and prev == previous[1]:
        return previous[0], "inserted", f"row {row_id} links past it to the row before"
    if self_ok:
        return row_id, "deleted-before", "its previous hash matches no row before it (rows were deleted or rewritten)"
    return row_id, "edited", "neither its content nor its link to the row before matches its hashes"


def verify(chunk_size=5000):
    """Walk the chain in id order and return a Verification naming the first bad row, if any."""
    started = time.perf_counter()
    chain_head = ChainHead.objects.filter(pk=1).first() or ChainHead()
    expected, last_id, checked = chain_head.anchor_hash, chain_head.anchor_id, 0

    def failed(row_id, problem, detail):
        return Verification(checked, time.perf_counter() - started, row_id, problem, detail)

    if chain_head.anchor_id:
        prune = AuditEvent.objects.filter(action="audit.prune").order_by("-id").values_list("id", "data").first()
        backed = prune is not None and (prune[1].get("anchor_id"), prune[1].get("anchor_hash")) == (
            chain_head.anchor_id,
            chain_head.anchor_hash,
        )
        if not backed:
            return failed(chain_head.anchor_id, "anchor", "the chain's anchor is not the one an audit.prune recorded")

    rows = (
        AuditEvent.objects.filter(id__lte=chain_head.last_id)
        .order_by("id")
        .values_list("id", "prev_hash", "hash", *HASHED_FIELDS)
    )
    previous = None  # (id, prev_hash) of the last good row: a row linking to its prev_hash skipped an inserted one
    for row_id, prev, stored, *values in rows.iterator(chunk_size=chunk_size):
        self_ok = row_hash(prev, zip(HASHED_FIELDS, values, strict=True)) == stored
        if not (self_ok and prev == expected and row_id > chain_head.anchor_id):
            return failed(*_classify(row_id, prev, self_ok, expected, chain_head, previous))
        previous, expected, last_id, checked = (row_id, prev), stored, row_id, checked + 1

    if last_id != chain_head.last_id:
        return failed(
            chain_head.last_id,
            "deleted",
            f"the chain head records row {chain_head.last_id} as the newest, the chain ends at row {last_id}",
        )
    if expected != chain_head.last_hash:
        return failed(last_id, "edited", "its hash differs from the one the chain head recorded")
    newer = AuditEvent.objects.filter(id__gt=chain_head.last_id).order_by("id").values_list("id", flat=True).first()
    if newer is not None:
        current = ChainHead.objects.filter(pk=1).values_list("last_id", flat=True).first() or 0
        if newer > current:  # rows appended while we walked are checked next time; others never were chained
            return failed(newer, "inserted", f"the row is newer than the chain head (row {current})")
    return Verification(checked, time.perf_counter() - started)
