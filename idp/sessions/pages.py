"""The signed-out page with its frames (not a view: every sign-out in a browser ends here).

`signed_out_response` is what every sign-out in a browser answers with: the relying
parties' front-channel logout pages in hidden iframes (Front-Channel Logout 1.0 section
3), then on to the post-logout redirect; without frames, a plain redirect there (or to
the signed-out page). The Content-Security-Policy of that one response lets it frame
exactly those relying parties' origins.
"""

from __future__ import annotations

from flask import Response, redirect, render_template, url_for

from idp.security import allow_framing
from idp.sessions.logout import LogoutResult

# Seconds the signed-out page waits for the frames before it continues anyway
# (idp/static/frontchannel-logout.js reads it from the page).
FRAMES_TIMEOUT_SECONDS = 4


def signed_out_response(result: LogoutResult | None, continue_url: str | None) -> Response:
    """The answer to a sign-out in this browser; the caller clears the SSO cookie.
    An upstream provider's own sign-out (LogoutResult.continue_through) comes after the
    frames, before `continue_url`, always from this page: a redirect there would be part
    of the sign-out form's navigation, which a relying party's CSP form-action (or ours)
    may not allow to reach the upstream's origin."""
    through = result is not None and result.continue_through is not None
    if through:
        continue_url = result.continue_through(continue_url)
    frames = result.frames if result else []
    if not frames and not through:
        return redirect(continue_url or url_for("interaction.logged_out"))
    page = render_template(
        "sessions/signed_out.html",
        frames=frames,
        apps=result.client_names if result else [],
        continue_url=continue_url,
        timeout_ms=FRAMES_TIMEOUT_SECONDS * 1000,
    )
    response = Response(page, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return allow_framing(response, [frame.origin for frame in frames])
