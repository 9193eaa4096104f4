"""`fengqiao demo`: migrate, build the demo data, print a summary and serve it on the development server."""

import time

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from fengqiao.demo.build import SCALES, DemoError, build_demo
from fengqiao.security import policy


class Command(BaseCommand):
    help = (
        "Migrate the database, build the demo (清远市 with 佛冈县 in full, or all of Guangdong with --scale province) "
        "and run the development server. Synthetic geography is marked 模拟/synthetic."
    )

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=SCALES, default="county", help="county (default) or province")
        parser.add_argument("--seed", type=int, default=42, help="seed of the synthetic geography (default 42)")
        parser.add_argument("--no-serve", action="store_true", help="build only; do not start the server")
        parser.add_argument("--addr", default="127.0.0.1:8000", help="address of the server (127.0.0.1:8000)")

    def handle(self, *args, scale, seed, no_serve, addr, **options):
        verbosity = options.get("verbosity", 1)
        started = time.perf_counter()
        self.stdout.write("migrating the database …")
        call_command("migrate", interactive=False, verbosity=max(verbosity - 1, 0))
        self.stdout.write(f"migrated in {time.perf_counter() - started:.1f} s")

        def progress(message):
            if verbosity:
                self.stdout.write(f"  {message}")

        try:
            report = build_demo(actor="demo", scale=scale, seed=seed, progress=progress)
        except DemoError as exc:
            raise CommandError(str(exc)) from exc
        for line in report.summary_lines():
            self.stdout.write(line)
        self._print_users(report)
        if no_serve:
            return
        self.stdout.write(self.style.SUCCESS(f"serving on http://{addr}/ (admin: /admin/, API docs: /api/docs/)"))
        # runserver serves static files only with DEBUG; the demo asks for that explicitly (--insecure)
        call_command("runserver", addr, use_reloader=False, insecure_serving=True)

    def _print_users(self, report):
        self.stdout.write("login users (user name, role, area):")
        for user in report.users:
            where = f"  @ {user.area}" if user.area else ""
            if user.password:
                secret = self.style.WARNING(user.password)
                self.stdout.write(f"  {user.username:<22} {user.role}{where}  password: {secret}")
            else:
                self.stdout.write(f"  {user.username:<22} {user.role}{where}  password unchanged")
            if user.totp_secret:
                indent = " " * 25
                self.stdout.write(f"{indent}TOTP secret: {self.style.WARNING(user.totp_secret)}  {user.totp_uri}")
        if any(u.password for u in report.users):
            self.stdout.write(
                "  The password is shown once and stored nowhere. Set FENGQIAO_DEMO_PASSWORD to choose it, or "
                "`fengqiao changepassword admin` to change it later."
            )
        elif report.users:
            self.stdout.write(
                "  Passwords were set by an earlier run; set FENGQIAO_DEMO_PASSWORD to reset them, or run "
                "`fengqiao changepassword admin`."
            )
        if any(u.totp_secret for u in report.users):
            self.stdout.write(
                "  Users with a TOTP secret sign in with a second factor: add the secret (or the otpauth:// URI) to "
                "an authenticator app and give its 6-digit code after the password. The secret is kept (encrypted) "
                "and shown again on every run; after a reset in the admin, the next sign-in (or demo run) sets up "
                "a new one."
            )
        if policy.demo_without_second_factor():
            self.stdout.write(
                "  The second factor is switched off (FENGQIAO_DEMO_NO_2FA); every admin page shows a banner saying so."
            )
