"""Background tasks of the notifications app (django.tasks; the database backend in production). Thin: they take
ids and call `notifications.delivery`, which makes them idempotent."""

from django.tasks import task

from fengqiao.notifications import delivery


@task()
def deliver_notifications(delivery_ids: list[int]) -> dict[str, int]:
    """Attempt each due delivery of `delivery_ids` through its channel; returns the count of each outcome
    (``sent``, ``failed``, ``gave_up``, ``skipped``). Sent or given-up deliveries are skipped, never resent."""
    return delivery.deliver(delivery_ids)
