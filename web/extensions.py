"""Flask extension objects (the only module-level state the web layer has)."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

babel = Babel()
csrf = CSRFProtect()
login_manager = LoginManager()
# In-memory counters: fine for one process; set RATELIMIT_STORAGE_URI (e.g. redis://) when scaling out.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
