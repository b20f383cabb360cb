"""Open311 GeoReport v2 endpoint (`/open311/v2`) for feedback on administrative regulations:
integrators list the feedback categories as services, send feedback as service requests and
follow their status and published answers. See docs/open311.md."""

from flask import Blueprint

from ..extensions import csrf

bp = Blueprint("open311", __name__)
csrf.exempt(bp)  # API keys in the request, no cookies: no CSRF exposure

from . import views  # noqa: E402,F401  (registers the routes on bp)
