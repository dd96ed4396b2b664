"""A minimal Django project whose database is reached through skewguard.

The connection comes from the environment, as a deployment sets it: SHOP_DB_* name
the proxy, and libpq's PGAPPNAME (unset: untagged) tags the connection.
"""

import os

SECRET_KEY = "test-only"
USE_TZ = True
INSTALLED_APPS = ["shop"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": os.environ.get("SHOP_DB_HOST", "127.0.0.1"),
        "PORT": os.environ.get("SHOP_DB_PORT", "6432"),
        "NAME": os.environ.get("SHOP_DB_NAME", "shop"),
        "USER": os.environ.get("SHOP_DB_USER", "postgres"),
    }
}
