"""Re-encrypt every personal-data field under the current primary key, and recompute the lookup hashes.

Key rotation (ADR 0005): put the new Fernet key first in FENGQIAO_FIELD_KEYS, keep the old one after it, run
`fengqiao rotate-keys`, then drop the old key. After changing FENGQIAO_HASH_KEY, the same command recomputes
every `<field>_hash` column. One transaction: either every row is rotated or none.
"""

import time

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from fengqiao.audit import services as audit
from fengqiao.core.crypto import EncryptedTextField, lookup_hash

BATCH = 1000


def encrypted_fields():
    """{model: ([encrypted field names], {field name: its hash field name})} for every installed model."""
    found = {}
    for model in apps.get_models():
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if names:
            existing = {f.name for f in model._meta.concrete_fields}
            hashes = {n: f"{n}_hash" for n in names if f"{n}_hash" in existing}
            found[model] = (names, hashes)
    return found


def rotate(*, actor):
    counts = {}
    with transaction.atomic():
        for model, (names, hashes) in encrypted_fields().items():
            rows = 0
            fields = [*names, *hashes.values()]
            # Batches by primary key rather than a server-side cursor: an undecryptable value raises mid-way
            # and the transaction must roll back cleanly on every database.
            pks = list(model._default_manager.order_by("pk").values_list("pk", flat=True))
            for start in range(0, len(pks), BATCH):
                batch = list(model._default_manager.filter(pk__in=pks[start : start + BATCH]).only("pk", *fields))
                for obj in batch:
                    for name, hash_name in hashes.items():
                        value = getattr(obj, name)
                        setattr(obj, hash_name, lookup_hash(value) if value else "")
                model._default_manager.bulk_update(batch, fields)
                rows += len(batch)
            counts[model._meta.label] = rows
        audit.record(actor=actor, action="security.rotate_keys", summary=f"re-encrypted {counts}", data=counts)
    return counts


class Command(BaseCommand):
    help = "Re-encrypt personal data under the first key of FENGQIAO_FIELD_KEYS and recompute lookup hashes."

    def handle(self, *args, **options):
        from django.core.exceptions import ImproperlyConfigured
        from django.core.management.base import CommandError

        from fengqiao.core.crypto import rotate_files

        started = time.perf_counter()
        try:
            counts = rotate(actor="rotate-keys")
            files = rotate_files()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        for label, rows in counts.items():
            self.stdout.write(f"{label}: {rows} rows")
        self.stdout.write(f"encrypted files: {files}")
        self.stdout.write(f"rotated {sum(counts.values())} rows in {time.perf_counter() - started:.1f} s")
