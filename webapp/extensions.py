"""The dashboard's Flask extensions, made here unbound and bound to an app by :func:`create_app`
with ``init_app`` (Flask's application-factory pattern). Blueprints import them from here, never
from the package ``__init__``, so no blueprint module imports back into the factory."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
csrf = CSRFProtect()
# In-memory counters are per process; behind several processes point RATELIMIT_STORAGE_URI at Redis.
limiter = Limiter(key_func=get_remote_address, default_limits=[], storage_uri="memory://")
