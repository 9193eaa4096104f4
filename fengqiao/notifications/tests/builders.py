"""Explicit builders for notification tests (and for other apps' test worlds that need one row of each model)."""

from fengqiao.notifications import services


def notify_one(
    user, *, kind="matter.dispatched", title="新的事项待处理", body="事项 FQ0000000001 已派发给您。", **extra
):
    """One notification for `user` (through the service); returns it."""
    return services.notify([user], kind=kind, title=title, body=body, actor="test", **extra)[0]


def one_of_each(user):
    """A notification for `user` with its delivery through the default log channel (enqueued on commit)."""
    return notify_one(user, target=("matters.matter", "1"))
