"""Settings. With no environment variables this is the embedded default: SQLite, the in-memory
channel layer and the in-process generation worker. `DATABASE_URL` and `REDIS_URL` switch to
PostgreSQL, channels_redis and Celery workers (see docs/ARCHITECTURE.md)."""

from __future__ import annotations

import secrets
from pathlib import Path

from .env import database_from_url, env_bool, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("RADSIM_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """From the environment, else a random key kept in var/ (never a key in the repository)."""
    key = env_str("DJANGO_SECRET_KEY")
    if key:
        return key
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "simulator.accounts",
    "cases",
    "simulator.imaging",
    "simulator.encounters",
    "simulator.review",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "simulator.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "simulator.urls"
ASGI_APPLICATION = "simulator.asgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

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
            ]
        },
    }
]

DATABASES = {
    "default": database_from_url(env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'radsim.sqlite3'}"))
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # the in-process worker writes from its own thread while requests read
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# Only what pages load; static/viewer holds the bundle's sources and node_modules, never served.
STATICFILES_DIRS = [("css", BASE_DIR / "static/css"), ("js", BASE_DIR / "static/js"), ("dist", BASE_DIR / "static/dist")]
STATIC_ROOT = VAR_DIR / "collected-static"
# Generated images are never served publicly: access-checked views stream them from here.
MEDIA_ROOT = Path(env_str("RADSIM_MEDIA_ROOT", str(VAR_DIR / "media")))
# daphne serves /static/ itself in the embedded mode (no separate web server)
SERVE_STATIC = env_bool("RADSIM_SERVE_STATIC", True)

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the page's JS reads it for fetch POSTs
X_FRAME_OPTIONS = "DENY"

from .channels import *  # noqa: E402,F401,F403
from .celery import *  # noqa: E402,F401,F403
from .generation import *  # noqa: E402,F401,F403
