"""The admin API's blueprint, alone in its module so that every resource module can add its
views to it without importing the package that assembles them (idp.admin.api)."""

from __future__ import annotations

from flask import Blueprint

from idp.admin.api.problems import handle

API_PREFIX = "/admin/api/v1"

bp = Blueprint("admin_api", __name__, url_prefix=API_PREFIX)
# Every failure in a view, whatever raised it, becomes a problem object. Flask looks for a
# handler of the status code in the blueprint and the application before any handler of an
# exception class: the codes the application has handlers of (the rate limiter's 429, the
# CSRF 400) are named too.
bp.register_error_handler(Exception, handle)
for status in (400, 429):
    bp.register_error_handler(status, handle)
