"""Settings for the open smart-locker network, read from the environment.

Development needs nothing set: SQLite beside the code, console email and SMS.
Production (DEBUG off) refuses to start without a real SECRET_KEY and CODE_PEPPER.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)

_DEV_SECRET = "dev-only-insecure-secret-key-change-me"
_DEV_PEPPER = "dev-only-insecure-code-pepper"
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET if DEBUG else "")
# Keyed-hash key for pickup/drop-off codes and device secrets: kept apart from
# SECRET_KEY so a database dump alone never lets anyone recompute a code.
CODE_PEPPER = env_str("CODE_PEPPER", _DEV_PEPPER if DEBUG else "")
if not DEBUG:
    for _name, _value, _dev in (("SECRET_KEY", SECRET_KEY, _DEV_SECRET), ("CODE_PEPPER", CODE_PEPPER, _DEV_PEPPER)):
        if not _value or _value == _dev:
            raise ImproperlyConfigured(f"{_name} must be set in the environment when DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
SITE_URL = env_str("SITE_URL", "http://localhost:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "phonenumber_field",
    "django_q",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "lockers",
    "carriers",
    "parcels",
    "notifications",
    # Benchmark and scale-data commands (manage.py bench, generate_scale_data); no models, no URLs.
    "bench",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Device API requests leave the list here, for their view (lockers.device.route).
    "lockers.device.route.DeviceApiRoute",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Operator staff must have a second factor before they reach the admin (issue 6).
    "accounts.middleware.StaffMfaRequiredMiddleware",
]

ROOT_URLCONF = "lockers_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "lockers_site.wsgi.application"

# SQLite file by default (zero set-up); PostgreSQL when DATABASE_URL is set.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend with a health check that asks the socket instead of the server.
    DATABASES["default"]["ENGINE"] = "lockers_site.postgresql"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web server and the task worker share the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif env_bool("DB_PREPARED_STATEMENTS", True):
    # Server-bound parameters, so the device hot paths' written-out statements can be
    # prepared (`lockers_site.rows`): PostgreSQL plans each once per connection (the
    # credential join: 0.56 -> 0.16 ms of database CPU; docs/performance.md). Every other
    # query stays unprepared and is planned with its own parameters: a generic plan
    # cannot use the partial indexes the list pages rely on. Off behind a pooler in
    # transaction mode, which cannot keep a connection's prepared statements.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"server_side_binding": True})
if DATABASES["default"]["ENGINE"] == "lockers_site.postgresql" and env_bool("DB_JIT_OFF", True):
    # No JIT compiling: our queries are short index look-ups, and the grouped availability
    # query of a site search over 170 sites or more crossed jit_above_cost, paying 14 ms
    # of compiling for 48 ms of work (docs/performance.md). Added to the options the
    # DATABASE_URL may carry. PgBouncer refuses this startup parameter: set DB_JIT_OFF=0
    # there and `ALTER DATABASE ... SET jit = off` on the server instead.
    database_options = DATABASES["default"].setdefault("OPTIONS", {})
    database_options["options"] = " ".join(filter(None, [database_options.get("options"), "-c jit=off"]))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

# allauth: email is the login; it must be verified before it is trusted.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_USER_MODEL_USERNAME_FIELD = "username"
LOGIN_REDIRECT_URL = "/"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
# Stored in UTC; every site carries its own time zone for display and deadlines.
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# In development whitenoise serves straight from the apps' static folders (no
# collectstatic needed); production serves the collected, hashed files.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Open Lockers <no-reply@openlockers.example>")

# django-q2 on the ORM broker: no extra service. `retry` must exceed `timeout`
# or a slow task would be handed to a second worker while the first still runs.
Q_CLUSTER = {
    "name": "lockers",
    "orm": "default",
    "workers": env_int("Q_WORKERS", 2),
    "timeout": 60,
    "retry": 120,
    "max_attempts": 5,
    "catch_up": False,
    "poll": 1,
    "ack_failures": True,
}

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "lockers_site.problems.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Open smart-locker network API",
    "VERSION": "1.0.0",
    # Swagger UI served from our own static files (drf-spectacular-sidecar): no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # carriers.api's <id:...> path converter: an integer of at most 18 digits.
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "minimum": 0, "maximum": 999_999_999_999_999_999}},
    "ENUM_NAME_OVERRIDES": {
        "ParcelStatusEnum": "parcels.models.ParcelStatus",
        "ExceptionReasonEnum": "parcels.models.ExceptionReason",
        "LanguageEnum": "lockers_site.settings.LANGUAGES",
        "WebhookDeliveryStatusEnum": "carriers.models.WebhookDelivery.Status",
        "TemperatureZoneEnum": "lockers.models.Compartment.TemperatureZone",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "carriers.api.schema.add_problem_responses",
    ],
}

# Partner API (carriers.api): throttling, idempotency keys, webhooks.
PARTNER_API_RATE = env_str("PARTNER_API_RATE", "600/min")  # per API key

# Throttle counters (partner API, widget, allauth) must be shared by every worker
# process in production: REDIS_URL points them at Redis; without it each process
# counts on its own (fine for one development process).
# It also holds device nonces and the trust tokens that let each worker keep the device
# credentials it has read (lockers.device.store); without it both live in the database.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
# Namespaces the device keys, so several deployments (or test workers) may share one Redis.
DEVICE_REDIS_PREFIX = env_str("DEVICE_REDIS_PREFIX", "lockers:device:")
PUBLIC_API_RATE = env_str("PUBLIC_API_RATE", "60/min")  # per client address, keyless endpoints (the widget)
# The IETF draft asks that keys live at least 24 hours.
IDEMPOTENCY_KEY_TTL = timedelta(hours=max(24, env_int("IDEMPOTENCY_KEY_TTL_HOURS", 24)))
# A claim older than this whose request never answered (a crashed worker) may be taken over.
IDEMPOTENCY_LOCK_TIMEOUT = timedelta(seconds=env_int("IDEMPOTENCY_LOCK_TIMEOUT_SECONDS", 300))
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8)
WEBHOOK_RETRY_BASE_SECONDS = env_int("WEBHOOK_RETRY_BASE_SECONDS", 30)
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10)
# Plain-http receivers only in development; production webhooks must be https.
WEBHOOK_ALLOW_HTTP = env_bool("WEBHOOK_ALLOW_HTTP", DEBUG)
# Receivers on loopback or private networks only in development (no SSRF into our own network).
WEBHOOK_ALLOW_PRIVATE_HOSTS = env_bool("WEBHOOK_ALLOW_PRIVATE_HOSTS", DEBUG)
WEBHOOK_DISPATCH_ON_COMMIT = env_bool("WEBHOOK_DISPATCH_ON_COMMIT", True)

PHONENUMBER_DEFAULT_REGION = "US"

# Domain rules, overridable per deployment.
LOCKER_OFFLINE_AFTER = timedelta(seconds=env_int("LOCKER_OFFLINE_AFTER_SECONDS", 300))
RESERVATION_HOLD = timedelta(minutes=env_int("RESERVATION_HOLD_MINUTES", 24 * 60))
PICKUP_WINDOW = timedelta(hours=env_int("PICKUP_WINDOW_HOURS", 72))
PICKUP_EXTENSION = timedelta(hours=env_int("PICKUP_EXTENSION_HOURS", 48))
REMINDER_BEFORE_DEADLINE = timedelta(hours=env_int("REMINDER_BEFORE_DEADLINE_HOURS", 24))
NEARBY_SITE_RADIUS_KM = float(env_str("NEARBY_SITE_RADIUS_KM", "5"))

# Recipient notifications (notifications/): outbox delivery, SMS gateway, STOP replies.
# SMS_BACKEND: notifications.channels.ConsoleSms (log), .FileSms (JSON lines) or .TwilioSms.
SMS_BACKEND = env_str("SMS_BACKEND", "notifications.channels.ConsoleSms")
SMS_FILE_PATH = env_str("SMS_FILE_PATH", str(BASE_DIR / "sms-outbox.jsonl"))
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN")
TWILIO_FROM = env_str("TWILIO_FROM")
TWILIO_API_BASE = env_str("TWILIO_API_BASE", "https://api.twilio.com")
if not DEBUG:
    # The console backends log every message, pickup codes and page links included:
    # production must choose its channels on purpose.
    _unset = [name for name in ("SMS_BACKEND", "EMAIL_BACKEND") if name not in os.environ]
    if _unset:
        raise ImproperlyConfigured(f"{' and '.join(_unset)} must be set in the environment when DEBUG is off.")
    # Behind the TLS-terminating proxy: trust its scheme header, send cookies over HTTPS only.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
if not DEBUG and SMS_BACKEND.endswith("TwilioSms") and not (TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN and TWILIO_FROM):
    raise ImproperlyConfigured("TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM must be set for TwilioSms.")
NOTIFICATION_MAX_ATTEMPTS = env_int("NOTIFICATION_MAX_ATTEMPTS", 6)
NOTIFICATION_RETRY_BASE_SECONDS = env_int("NOTIFICATION_RETRY_BASE_SECONDS", 30)
# A worker owns a claimed row this long; longer than any gateway timeout, so a live
# worker never loses its claim, and short enough that a dead worker's row is resent soon.
NOTIFICATION_CLAIM_SECONDS = env_int("NOTIFICATION_CLAIM_SECONDS", 120)
REMINDER_MORNING_HOUR = env_int("REMINDER_MORNING_HOUR", 8)
# allauth MFA: TOTP apps and recovery codes; required for operator staff (accounts.middleware).
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env_str("MFA_TOTP_ISSUER", "Open Lockers")
# On in production; off by default in development so demo logins and tests of other
# surfaces need no authenticator (the MFA tests turn it on).
STAFF_MFA_REQUIRED = env_bool("STAFF_MFA_REQUIRED", not DEBUG)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
