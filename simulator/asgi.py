"""ASGI entry point: HTTP through Django, websockets through the Channels router.

HTTP bodies of bundle uploads are capped as they arrive (simulator/body_limit.py). Websockets are wrapped
in AuthMiddlewareStack (session user in scope) inside AllowedHostsOriginValidator (no cross-site sockets)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "simulator.settings")

from django.conf import settings  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402

django_http = get_asgi_application()  # sets Django up before consumers import models

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from simulator.body_limit import BodySizeLimit, bundle_import_limits  # noqa: E402
from simulator.routing import websocket_urlpatterns  # noqa: E402

if settings.SERVE_STATIC:
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    django_http = ASGIStaticFilesHandler(django_http)
# outermost: caps the body of bundle uploads that come without a Content-Length
django_http = BodySizeLimit(django_http, bundle_import_limits)

application = ProtocolTypeRouter(
    {
        "http": django_http,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
