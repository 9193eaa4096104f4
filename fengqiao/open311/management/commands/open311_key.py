"""``fengqiao open311-key create NAME`` | ``open311-key list [--all]`` | ``open311-key revoke ID_OR_PREFIX``.
`create` prints the key once, as the last word of its output."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from fengqiao.open311 import services
from fengqiao.open311.models import ApiKey

ACTOR = "fengqiao open311-key"


class Command(BaseCommand):
    help = "Issue, list and revoke the API keys of Open311 clients."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="issue a key for a client; prints the key once")
        create.add_argument("name", help="the client (e.g. fixmystreet)")
        listing = sub.add_parser("list", help="list live keys (all with --all)")
        listing.add_argument("--all", action="store_true", help="include revoked keys")
        revoke = sub.add_parser("revoke", help="revoke a key by its id or prefix")
        revoke.add_argument("key", help="id or prefix")

    def handle(self, *args, **options):
        try:
            return getattr(self, f"do_{options['action']}")(options)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None

    def do_create(self, options):
        api_key, key = services.create_key(actor=ACTOR, name=options["name"])
        self.stdout.write(
            f"Open311 key {api_key.pk} ({api_key.prefix}) for {api_key.name}. "
            f"Store the key now; it is not shown again:\n{key}"
        )

    def do_list(self, options):
        rows = ApiKey.objects.order_by("name", "-created_at")
        if not options["all"]:
            rows = rows.filter(revoked_at__isnull=True)
        for api_key in rows:
            last = f"{api_key.last_used_at:%Y-%m-%d %H:%M}" if api_key.last_used_at else "never"
            self.stdout.write(
                f"{api_key.pk}\t{api_key.prefix}\t{api_key.state}\tcreated {api_key.created_at:%Y-%m-%d %H:%M}\t"
                f"last used {last}\t{api_key.name}"
            )

    def do_revoke(self, options):
        value = options["key"].strip()
        found = ApiKey.objects.filter(prefix=value).first()
        if found is None and value.isdigit():
            found = ApiKey.objects.filter(pk=int(value)).first()
        if found is None:
            raise CommandError(f"no Open311 key with id or prefix {value!r}")
        services.revoke_key(actor=ACTOR, api_key=found)
        self.stdout.write(f"Open311 key {found.pk} ({found.prefix}) of {found.name} revoked")
