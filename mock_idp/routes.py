"""Path constants: the route table (app.py) and the discovery document are both built from these.

The pattern to copy for a new endpoint: a constant here, one module named in the spec's terms with a
``handler(ctx, req) -> Response``, one row in ``app.app_for``'s table, and (if it is public) its key in
``discovery.py`` from the same constant, so the paths cannot drift apart.
"""

DISCOVERY = "/.well-known/openid-configuration"
JWKS = "/.well-known/jwks.json"
AUTHORIZE = "/authorize"
TOKEN = "/token"
USERINFO = "/userinfo"
SIGN_IN = "/sign-in"
SMS_CODE = "/sms-code"
REGISTER = "/register"
CONSENT = "/consent"
UPLIFT = "/uplift"
TRUSTMARK = "/trustmark/"
HEALTH = "/health"
METRICS = "/metrics"
ADMIN_CITIZENS = "/admin/citizens/"
ADMIN_FAULTS = "/admin/faults"
DEV_CALLBACK = "/dev/callback"
