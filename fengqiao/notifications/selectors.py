"""Reads of the inbox: a user's own notifications only (ADR 0012)."""

from fengqiao.notifications.models import Notification


def inbox(user, queryset=None):
    """The notifications of `user` (none for an anonymous user), newest first."""
    queryset = Notification.objects.all() if queryset is None else queryset
    if user is None or not user.is_authenticated:
        return queryset.none()
    return queryset.filter(recipient_id=user.pk)


def unread_count(user) -> int:
    return inbox(user).filter(read_at__isnull=True).count()
