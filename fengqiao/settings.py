"""Django settings for fengqiao.

Every deployment-specific value comes from an environment variable named ``FENGQIAO_*``; the README's
configuration table lists them all. Defaults give a working development setup on the embedded SQLite database.
"""

import json
import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
REPO_DIR = BASE_DIR.parent


def env(name, default=None):
    return os.environ.get(f"FENGQIAO_{name}", default)


def env_bool(name, default=False):
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DATA_DIR = Path(env("DATA_DIR", REPO_DIR / "var")).resolve()
# Where the shared reference data (division codes, boundaries, complaints) lives. CI and developers have it
# beside the repository; a plain clone does not, and the demo then uses the fixture in fengqiao/demo/fixtures.
SHARED_DATA_DIR = Path(env("SHARED_DATA_DIR", REPO_DIR.parent / "shared" / "data")).resolve()
# The category classifier's model file (fengqiao.routing.store): empty = the deployment's own, else the shipped one.
ROUTER_MODEL = env("ROUTER_MODEL", "")
# Keys (field encryption, hashing) live outside the repository; a development key is generated on first use.
KEY_DIR = Path(env("KEY_DIR", Path.home() / ".config" / "fengqiao")).expanduser()

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env("SECRET_KEY") or "dev-only-insecure-key-set-FENGQIAO_SECRET_KEY-in-production"
ALLOWED_HOSTS = [h.strip() for h in env("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h.strip()]

INSTALLED_APPS = [
    # Before the admin: its admin/base_site.html adds the demo-mode banner to every admin page (ADR 0010).
    "fengqiao.security",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks_db",
    "fengqiao.core",
    "fengqiao.accounts",
    "fengqiao.audit",
    "fengqiao.areas",
    "fengqiao.departments",
    "fengqiao.centres",
    "fengqiao.people",
    "fengqiao.workdays",
    "fengqiao.notifications",
    "fengqiao.matters",
    "fengqiao.open311",
    "fengqiao.routing",
    "fengqiao.api",
    "fengqiao.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "fengqiao.security.middleware.IdleTimeoutMiddleware",
    "fengqiao.security.middleware.PasswordAgeMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "fengqiao.core.middleware.RequestContextMiddleware",
]

ROOT_URLCONF = "fengqiao.urls"
WSGI_APPLICATION = "fengqiao.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
# Counts failed sign-ins and refuses locked usernames and addresses (admin login and the API token endpoint);
# group permissions come from the roles of the current area assignments (fengqiao.accounts.backends).
AUTHENTICATION_BACKENDS = ["fengqiao.security.backends.LockoutModelBackend"]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'fengqiao.sqlite3'}",
        # Persistent connections by default: opening one (and SQLite's PRAGMAs) costs more than many queries.
        conn_max_age=int(env("DB_CONN_MAX_AGE", "600")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers queue on a file lock rather than SQLite's busy-wait (fengqiao.core.sqlite, ADR 0013).
    DATABASES["default"]["ENGINE"] = "fengqiao.core.sqlite"
    # Tests run in memory, as with Django's own engine name (pytest-django recognises only that name).
    DATABASES["default"]["TEST"] = {"NAME": ":memory:"}
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
        "transaction_mode": "IMMEDIATE",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # 等保 level 3 asks for complexity: at least three of lower case, upper case, digits and symbols.
    {"NAME": "fengqiao.security.validators.CharacterClassesValidator", "OPTIONS": {"min_classes": 3}},
    # Not one of the last PASSWORD_HISTORY passwords; also keeps that history when a password changes.
    {"NAME": "fengqiao.security.validators.PasswordHistoryValidator"},
]

# Login security (ADR 0010). Times in seconds.
# Failed sign-ins (password or second factor) within the window that lock a username / a client address.
LOCKOUT_THRESHOLD = int(env("LOCKOUT_THRESHOLD", "5"))
LOCKOUT_ADDRESS_THRESHOLD = int(env("LOCKOUT_ADDRESS_THRESHOLD", "50"))
LOCKOUT_WINDOW_SECONDS = int(env("LOCKOUT_WINDOW_SECONDS", "900"))
LOCKOUT_SECONDS = int(env("LOCKOUT_SECONDS", "900"))
# Reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For is believed when reading the
# client's address (audit rows, lockouts); empty: REMOTE_ADDR only. See fengqiao.core.context.
TRUSTED_PROXIES = [p.strip() for p in env("TRUSTED_PROXIES", "").split(",") if p.strip()]
# A signed-in session ends after this much inactivity, and in any case after SESSION_COOKIE_AGE.
SESSION_IDLE_SECONDS = int(env("SESSION_IDLE_SECONDS", "900"))
SESSION_COOKIE_AGE = int(env("SESSION_MAX_AGE_SECONDS", str(8 * 3600)))
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Lifetime of a new API token when none is given.
API_TOKEN_DAYS = int(env("API_TOKEN_DAYS", "90"))
# Periodic password change (等保 level 3): staff whose password is older than this many days must change it
# before anything else (admin pages, API). 90 is an inferred value (no number in the standard); 0: off.
PASSWORD_MAX_AGE_DAYS = int(env("PASSWORD_MAX_AGE_DAYS", "90"))
# A new password may not be one of the last N (0: no check); each one costs a hash check when changing.
PASSWORD_HISTORY = int(env("PASSWORD_HISTORY", "5"))
# Roles whose holders must use a second factor (TOTP): `staff` means Django's is_staff; other values are
# fengqiao.accounts roles. Superusers always need one.
TOTP_ROLES = [
    r.strip()
    for r in env(
        "TOTP_ROLES",
        "staff,centre_staff,department_staff,leader,administrator,system_admin,security_admin,audit_admin",
    ).split(",")
    if r.strip()
]
# Demo only: switch the second-factor requirement off (every admin page then says so).
DEMO_NO_2FA = env_bool("DEMO_NO_2FA", False)

LANGUAGE_CODE = env("LANGUAGE", "zh-hans")
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT", DATA_DIR / "static"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = Path(env("MEDIA_ROOT", DATA_DIR / "media"))
MEDIA_URL = "media/"

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: an unauthenticated request then gets 401 with WWW-Authenticate, not 403.
        # Expiring, revocable tokens (ADR 0010), issued by /api/v1/auth/token/ and `fengqiao token create`.
        # DRF's permanent tokens (rest_framework.authtoken) are no longer accepted.
        "fengqiao.security.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "fengqiao.api.filters.ScopedFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "fengqiao.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Endpoints open without an account (tracking code, citizen report) are throttled per client address.
    "DEFAULT_THROTTLE_RATES": {
        "public": env("THROTTLE_PUBLIC", "60/min"),
        "public_report": env("THROTTLE_PUBLIC_REPORT", "10/min"),
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "fengqiao API",
    "DESCRIPTION": "Grassroots social governance platform: areas, grids, centres, departments.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a field named `kind`: name each choice set after its model, so the API keeps `kind`
    # and the schema has stable, readable enum names instead of hashed ones (KindD56Enum).
    "ENUM_NAME_OVERRIDES": {
        "AreaChangeKindEnum": "fengqiao.areas.models.AreaChange.Kind",
        "GridKindEnum": "fengqiao.areas.models.Grid.Kind",
        "DepartmentKindEnum": "fengqiao.departments.models.Department.Kind",
        "PlaceKindEnum": "fengqiao.people.models.Place.Kind",
        "OrganisationKindEnum": "fengqiao.people.models.Organisation.Kind",
        "DispatchStateEnum": "fengqiao.matters.models.Dispatch.State",
        "SupervisionStateEnum": "fengqiao.matters.models.Supervision.State",
        "TaskStateEnum": "fengqiao.matters.models.Task.State",
        "ExtensionStateEnum": "fengqiao.matters.models.Extension.State",
        "RatingEnum": "fengqiao.matters.models.Rating",
    },
}


def env_keep(name, default):
    """A masking rule "start,end": how many leading and trailing characters stay visible."""
    raw = env(name)
    if not raw:
        return default
    try:
        start, end = (int(part) for part in raw.split(","))
    except ValueError:
        raise ValueError(f"FENGQIAO_{name} must be two numbers 'start,end', e.g. 3,4; got {raw!r}") from None
    if start < 0 or end < 0:
        raise ValueError(f"FENGQIAO_{name} must not be negative; got {raw!r}")
    return start, end


MASK_PHONE_KEEP = env_keep("MASK_PHONE", (3, 4))
MASK_ID_KEEP = env_keep("MASK_ID", (6, 4))

# How often (seconds) a process re-checks whether grids or boundaries changed before answering `locate`.
LOCATE_REFRESH_SECONDS = float(env("LOCATE_REFRESH_SECONDS", "5"))
# Cell size of the locate raster, as a fraction of the median grid's bounding-box side (see ADR 0006).
LOCATE_CELLS_PER_GRID = int(env("LOCATE_CELLS_PER_GRID", "10"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "WARNING")},
}

if not DEBUG:
    SESSION_COOKIE_HTTPONLY = True
    CSRF_COOKIE_HTTPONLY = True
    X_FRAME_OPTIONS = "DENY"

# The closed loop and its neighbours (ADR 0011–0013): inferred [I] values, configurable. The code reads the
# FENGQIAO_-prefixed names with its own defaults, so an unset variable keeps the documented default.
for _name, _cast in (
    ("MAX_REOPEN", int),  # how often an unsatisfied reporter can send a matter back (重办)
    ("SWEEP_SECONDS", int),  # how often `fengqiao worker` runs the deadline sweep
    ("ATTACHMENT_MAX_BYTES", int),  # largest photo accepted
    ("ATTACHMENT_MAX_PIXELS", int),  # decompression-bomb guard
    ("ATTACHMENT_THUMBNAIL_SIZE", int),  # long side of thumbnails (px)
    ("NOTIFY_MAX_ATTEMPTS", int),  # outbound notification attempts before giving up
    ("NOTIFY_BACKOFF_SECONDS", int),  # first retry delay (doubles)
    ("NOTIFY_BACKOFF_MAX_SECONDS", int),  # longest retry delay
    ("NOTIFY_CHANNELS", json.loads),  # outbound channels: JSON list of {"class": dotted path, …options}
    ("SPECIAL_CARE_RETENTION_DAYS", json.loads),  # JSON {category: days} overriding the defaults
    # Duplicate suggestions (ADR 0019): how near (metres), how recent (days either side), how similar (0–1), and
    # per category (JSON {category code: {"radius_m": …, "window_days": …}}, for the category and those below it).
    ("ROUTER_THRESHOLD", float),  # the category classifier's confidence below which a person triages (0.6 [I])
    ("DUPLICATE_RADIUS_M", float),
    ("DUPLICATE_WINDOW_DAYS", float),
    ("DUPLICATE_MIN_SCORE", float),
    ("DUPLICATE_CATEGORIES", json.loads),
):
    if env(_name) is not None:
        globals()[f"FENGQIAO_{_name}"] = _cast(env(_name))
