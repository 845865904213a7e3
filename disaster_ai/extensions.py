"""Unbound Flask extensions, bound to each app in the factory with init_app."""

from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

babel = Babel()
csrf = CSRFProtect()
