"""Production settings refuse unsafe defaults: checked in a fresh interpreter each time."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

PRODUCTION = {"DEBUG": "0", "SECRET_KEY": "k" * 50, "CODE_PEPPER": "p" * 32, "ALLOWED_HOSTS": "lockers.example",
              "SMS_BACKEND": "notifications.channels.FileSms",
              "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend"}


def load_settings(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION and k != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run(
        [sys.executable, "-c", "import lockers_site.settings as s; print(s.SESSION_COOKIE_SECURE)"],
        env={**clean, **env}, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=60,
    )


def test_a_complete_production_environment_loads_with_secure_cookies():
    result = load_settings(PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


@pytest.mark.parametrize("missing", ["SECRET_KEY", "CODE_PEPPER", "SMS_BACKEND", "EMAIL_BACKEND"])
def test_production_refuses_to_start_without(missing):
    result = load_settings({k: v for k, v in PRODUCTION.items() if k != missing})
    assert result.returncode != 0
    assert f"{missing} must be set" in result.stderr


def _database_options(env: dict[str, str]) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DB_JIT_OFF", "DJANGO_SETTINGS_MODULE")}
    result = subprocess.run(
        [sys.executable, "-c", "import lockers_site.settings as s; print(s.DATABASES['default']['OPTIONS'])"],
        env={**clean, **env}, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_postgresql_connections_turn_jit_off_keeping_the_urls_own_options_unless_told_not_to():
    url = "postgres://u@db.example:5432/lockers?options=-c%20search_path%3Dlockers"
    assert "'options': '-c search_path=lockers -c jit=off'" in _database_options({"DATABASE_URL": url})
    assert "jit" not in _database_options({"DATABASE_URL": url, "DB_JIT_OFF": "0"})  # behind PgBouncer
