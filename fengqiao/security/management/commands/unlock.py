"""``fengqiao unlock USER`` ends the sign-in lockouts of a user name (``--address`` for a client address)."""

from django.core.management.base import BaseCommand

from fengqiao.security import clock
from fengqiao.security.models import Lockout
from fengqiao.security.services import lockout

ACTOR = "fengqiao unlock"


class Command(BaseCommand):
    help = "End the sign-in lockouts of a user name or a client address."

    def add_arguments(self, parser):
        parser.add_argument("value", help="user name (or address with --address)")
        parser.add_argument("--address", action="store_true", help="the value is a client address")

    def handle(self, *args, value, address, **options):
        scope = Lockout.Scope.ADDRESS if address else Lockout.Scope.USERNAME
        locks = Lockout.objects.filter(scope=scope, value=value, locked_until__gt=clock.now(), unlocked_at__isnull=True)
        ended = [lockout.unlock(actor=ACTOR, lockout=lock) for lock in locks]
        self.stdout.write(f"{len(ended)} lockout(s) of {scope} {value} ended")
