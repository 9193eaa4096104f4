"""``fengqiao token create USER [--days N] [--name NAME]`` | ``token list [--user USER] [--all]`` |
``token revoke ID``. `create` prints the key once, as the last word of its output."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from fengqiao.security import clock
from fengqiao.security.models import ApiToken
from fengqiao.security.services import tokens

ACTOR = "fengqiao token"


class Command(BaseCommand):
    help = "Issue, list and revoke expiring API tokens."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="issue a token; prints the key once")
        create.add_argument("user", help="user name")
        create.add_argument("--days", type=int, default=None, help="lifetime in days (default FENGQIAO_API_TOKEN_DAYS)")
        create.add_argument("--name", default="", help="what the token is for")
        listing = sub.add_parser("list", help="list tokens (live ones unless --all)")
        listing.add_argument("--user", default=None, help="only this user's tokens")
        listing.add_argument("--all", action="store_true", help="include expired and revoked tokens")
        revoke = sub.add_parser("revoke", help="revoke a token by its id")
        revoke.add_argument("id", type=int)

    def handle(self, *args, **options):
        try:
            return getattr(self, f"do_{options['action']}")(options)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None

    def do_create(self, options):
        user = get_user_model()._default_manager.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"no user named {options['user']!r}")
        token, key = tokens.issue(actor=ACTOR, user=user, name=options["name"], days=options["days"])
        self.stdout.write(
            f"token {token.pk} ({token.prefix}) for {user.get_username()}, expires {token.expires_at:%Y-%m-%d %H:%M} "
            f"UTC. Store the key now; it is not shown again:\n{key}"
        )

    def do_list(self, options):
        now = clock.now()
        rows = ApiToken.objects.select_related("user").order_by("user__username", "-created_at")
        if options["user"]:
            rows = rows.filter(user__username=options["user"])
        if not options["all"]:
            rows = rows.filter(revoked_at__isnull=True, expires_at__gt=now)
        for token in rows:
            last = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
            self.stdout.write(
                f"{token.pk}\t{token.prefix}\t{token.user.get_username()}\t{token.state(now)}\t"
                f"expires {token.expires_at:%Y-%m-%d %H:%M}\tlast used {last}\t{token.name}"
            )

    def do_revoke(self, options):
        token = ApiToken.objects.select_related("user").filter(pk=options["id"]).first()
        if token is None:
            raise CommandError(f"no token with id {options['id']}")
        tokens.revoke(actor=ACTOR, token=token)
        self.stdout.write(f"token {token.pk} ({token.prefix}) of {token.user.get_username()} revoked")
