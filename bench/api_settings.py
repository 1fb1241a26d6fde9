"""Settings for bench/api.py's gunicorn: the deployed settings, with bench/api_urls.py (the
site plus the floor endpoint) as the URL configuration. Not part of the product."""

from helpdesk.settings import *  # noqa: F403

ROOT_URLCONF = "bench.api_urls"
