"""Settings as `startproject` would leave them, trimmed: nothing here knows about tracing."""

DEBUG = True
SECRET_KEY = "e2e-only"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "djangosite.urls"
INSTALLED_APPS = ["django.contrib.staticfiles"]   # runserver then serves through its static files handler
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
STATIC_URL = "static/"
USE_TZ = True
