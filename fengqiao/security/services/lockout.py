"""Failed sign-ins and lockouts (等保 level 3: 登录失败处理).

Failures are counted per user name and per client address within ``LOCKOUT_WINDOW_SECONDS``. Reaching
``LOCKOUT_THRESHOLD`` (user name) or ``LOCKOUT_ADDRESS_THRESHOLD`` (address) locks that user name or address
for ``LOCKOUT_SECONDS``. A locked user name or address is refused before its password is even checked.
Failures while locked are not counted again; counting restarts after a lockout.
"""

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from fengqiao.audit import services as audit
from fengqiao.security import clock
from fengqiao.security.models import FailureReason, Lockout, LoginFailure

Scope = Lockout.Scope


def _window():
    return datetime.timedelta(seconds=settings.LOCKOUT_WINDOW_SECONDS)


def active_lockout(*, username="", address=""):
    """The lockout that refuses this user name or address now, or None."""
    now = clock.now()
    keys = [(Scope.USERNAME, username), (Scope.ADDRESS, address)]
    for scope, value in keys:
        if not value:
            continue
        lock = (
            Lockout.objects.filter(scope=scope, value=value, locked_until__gt=now, unlocked_at__isnull=True)
            .order_by("-locked_until")
            .first()
        )
        if lock is not None:
            return lock
    return None


def _count(scope, value, now):
    since = now - _window()
    last = Lockout.objects.filter(scope=scope, value=value).order_by("-locked_at").first()
    if last is not None:
        since = max(since, last.unlocked_at or last.locked_at)
    field = "username" if scope == Scope.USERNAME else "address"
    return LoginFailure.objects.filter(**{field: value, "occurred_at__gt": since}).count()


def record_failure(*, username, address, reason=FailureReason.PASSWORD, user=None):
    """Count one failed sign-in; lock the user name or address when it reaches its threshold.

    Returns the new Lockout, or None."""
    username = (username or "")[:150]
    now = clock.now()
    with transaction.atomic():
        failure = LoginFailure.objects.create(username=username, address=address, reason=reason, occurred_at=now)
        audit.record(
            actor=user or "anonymous",
            action="security.login_failed",
            obj=user,
            summary=f"failed sign-in ({reason}) for {username!r} from {address or '?'}",
            data={"username": username, "address": address, "reason": str(reason)},
        )
        new_lock = None
        thresholds = [
            (Scope.USERNAME, username, settings.LOCKOUT_THRESHOLD),
            (Scope.ADDRESS, address, settings.LOCKOUT_ADDRESS_THRESHOLD),
        ]
        for scope, value, threshold in thresholds:
            if not value or threshold <= 0:
                continue
            failures = _count(scope, value, now)
            if failures >= threshold:
                until = now + datetime.timedelta(seconds=settings.LOCKOUT_SECONDS)
                new_lock = Lockout.objects.create(
                    scope=scope, value=value, failures=failures, locked_at=now, locked_until=until
                )
                audit.record(
                    actor="system",
                    action="security.login_locked",
                    obj=new_lock,
                    summary=f"{scope} {value} locked until {until:%Y-%m-%d %H:%M:%S} after {failures} failures",
                    data={"scope": str(scope), "value": value, "failures": failures, "until": until.isoformat()},
                )
        # Keep the counter table small: rows older than the window no longer count.
        LoginFailure.objects.filter(username=username, occurred_at__lt=now - _window()).exclude(pk=failure.pk).delete()
    return new_lock


def record_success(*, user, address, second_factor=""):
    """A completed sign-in: the user name's failure count starts again."""
    with transaction.atomic():
        LoginFailure.objects.filter(username=user.get_username()).delete()
        audit.record(
            actor=user,
            action="security.login",
            obj=user,
            summary=f"signed in from {address or '?'}" + (f" with {second_factor}" if second_factor else ""),
            data={"address": address, "second_factor": second_factor},
        )


def unlock(*, actor, lockout):
    """End a lockout early (an administrator). Refuses one that has already ended."""
    now = clock.now()
    with transaction.atomic():
        lockout = Lockout.objects.select_for_update().get(pk=lockout.pk)
        if lockout.unlocked_at is not None or lockout.locked_until <= now:
            raise ValidationError(_("This lockout has already ended."))
        lockout.unlocked_at = now
        lockout.unlocked_by = actor if getattr(actor, "pk", None) else None
        lockout.save(update_fields=["unlocked_at", "unlocked_by"])
        audit.record(
            actor=actor,
            action="security.login_unlocked",
            obj=lockout,
            summary=f"{lockout.scope} {lockout.value} unlocked",
            data={"scope": lockout.scope, "value": lockout.value},
        )
    return lockout


def unlock_user(*, actor, username):
    """End every active lockout of `username`; returns how many ended."""
    now = clock.now()
    locks = Lockout.objects.filter(scope=Scope.USERNAME, value=username, locked_until__gt=now, unlocked_at__isnull=True)
    return len([unlock(actor=actor, lockout=lock) for lock in locks])
