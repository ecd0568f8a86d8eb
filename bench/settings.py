"""Settings of the benchmark server: the product's own, plus a bare view and a query counter.

Used only by the server `manage.py bench` starts (DJANGO_SETTINGS_MODULE=bench.settings);
everything else (workers, database connections, middleware) is the production setup.
"""

import os

# Production settings insist on explicit channels; the bench sends nothing real.
os.environ.setdefault("SMS_BACKEND", "notifications.channels.ConsoleSms")
os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
# Plain HTTP on loopback: the bench client must get its session cookie back.
os.environ.setdefault("SECURE_COOKIES", "0")

from lockers_site.settings import *  # noqa: F403
from lockers_site.settings import MIDDLEWARE

# The bench urlconf adds /bench/bare (the framework's own ceiling) in front of the product's routes.
ROOT_URLCONF = "bench.urls"
# Outermost, so it counts every query of the request, sessions and authentication included.
MIDDLEWARE = ["bench.middleware.query_count", *MIDDLEWARE]
