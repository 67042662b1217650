"""Apache httpd with mod_auth_openidc as a real relying party, on 127.0.0.1.

Debian's apache2 and libapache2-mod-auth-openidc packages (installed by .ci/run). `start`
writes a self-contained configuration into a temporary folder, starts httpd in the
foreground and `stop` ends it. `/protected/` needs a signed-in user; its page echoes the
`sub` and e-mail that mod_auth_openidc got from our ID token. `/silent/` is the same with
`prompt=none` in the authorization request: with no SSO session the provider answers
`login_required`, which mod_auth_openidc shows on an error page.

mod_auth_openidc serves every protocol endpoint under its redirect URI:
`?logout=<url>` signs out (locally, then RP-Initiated Logout at our end_session endpoint),
`?logout=backchannel` receives back-channel logout tokens, `?logout=get` is the
front-channel logout page the provider frames.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from helpers.live import stop_process

APACHE = "/usr/sbin/apache2"
MODULES = Path("/usr/lib/apache2/modules")
OIDC_MODULE = MODULES / "mod_auth_openidc.so"

CONFIG = """
ServerRoot "{root}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile "{root}/httpd.pid"
ErrorLog "{root}/error.log"
LogLevel warn auth_openidc:{oidc_log_level}
User {user}
Group {group}
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authn_core_module {modules}/mod_authn_core.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule authz_user_module {modules}/mod_authz_user.so
LoadModule mime_module {modules}/mod_mime.so
LoadModule include_module {modules}/mod_include.so
LoadModule dir_module {modules}/mod_dir.so
LoadModule auth_openidc_module {modules}/mod_auth_openidc.so
TypesConfig /etc/mime.types
DocumentRoot "{root}/htdocs"
DirectoryIndex index.shtml index.html

OIDCProviderMetadataURL {issuer}/.well-known/openid-configuration
OIDCClientID {client_id}
OIDCClientSecret {client_secret}
OIDCRedirectURI http://127.0.0.1:{port}/protected/redirect_uri
OIDCCryptoPassphrase {passphrase}
OIDCScope "openid email profile"
OIDCPKCEMethod S256
OIDCResponseType code
OIDCProviderTokenEndpointAuth client_secret_basic
OIDCSessionType server-cache
OIDCCacheType shm
OIDCDefaultLoggedOutURL http://127.0.0.1:{port}/loggedout.html
OIDCCookieSameSite On
OIDCRemoteUserClaim sub
OIDCSessionInactivityTimeout 3600
OIDCStateTimeout 300
OIDCHTTPTimeoutShort 5
OIDCHTTPTimeoutLong 10
OIDCIDTokenSignedResponseAlg RS256

<Directory "{root}/htdocs">
  Require all granted
</Directory>
<Location /protected/>
  AuthType openid-connect
  Require valid-user
  Options +Includes
  AddOutputFilter INCLUDES .shtml
</Location>
<Location /silent/>
  AuthType openid-connect
  Require valid-user
  OIDCPathAuthRequestParams prompt=none
  Options +Includes
  AddOutputFilter INCLUDES .shtml
</Location>
"""

PAGE = """<!doctype html><html><body>
<p id="who">signed in: <!--#echo var="REMOTE_USER" --></p>
<p id="email"><!--#echo var="OIDC_CLAIM_email" --></p>
</body></html>
"""


@dataclass
class ApacheRP:
    port: int
    root: Path
    client_id: str
    process: subprocess.Popen

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def redirect_uri(self) -> str:
        return f"{self.base}/protected/redirect_uri"

    @property
    def backchannel_logout_uri(self) -> str:
        return f"{self.redirect_uri}?logout=backchannel"

    @property
    def frontchannel_logout_uri(self) -> str:
        return f"{self.redirect_uri}?logout=get"

    @property
    def logged_out_url(self) -> str:
        """Where mod_auth_openidc's logout ends (a post_logout_redirect_uri to register)."""
        return f"{self.base}/loggedout.html"

    def logout_url(self) -> str:
        """mod_auth_openidc's sign-out: local session, then the provider's end_session."""
        return f"{self.redirect_uri}?logout={quote(self.logged_out_url, safe='')}"

    def log(self) -> str:
        path = self.root / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        stop_process(self.process)
        if self.process.stderr:
            self.process.stderr.close()


def client_metadata(port: int, *, logout: str) -> dict:
    """Registration metadata for the httpd that will listen on `port`.

    `logout`: "backchannel" (mod_auth_openidc's ?logout=backchannel receives logout tokens)
    or "frontchannel" (?logout=get, framed by the provider's signed-out page).
    """
    base = f"http://127.0.0.1:{port}"
    redirect_uri = f"{base}/protected/redirect_uri"
    metadata = {
        "client_name": "Apache httpd, mod_auth_openidc",
        "redirect_uris": [redirect_uri],
        "post_logout_redirect_uris": [f"{base}/loggedout.html"],
        "scope": "openid email profile",
    }
    if logout == "backchannel":
        metadata["backchannel_logout_uri"] = f"{redirect_uri}?logout=backchannel"
        metadata["backchannel_logout_session_required"] = True
    else:
        metadata["frontchannel_logout_uri"] = f"{redirect_uri}?logout=get"
        metadata["frontchannel_logout_session_required"] = True
    return metadata


def available() -> str | None:
    """None when Apache with mod_auth_openidc can run here, else the reason it cannot."""
    if not Path(APACHE).exists():
        return "apache2 is not installed (Debian package apache2)"
    if not OIDC_MODULE.exists():
        return "mod_auth_openidc is not installed (Debian package libapache2-mod-auth-openidc)"
    return None


def start(workdir: Path, *, issuer: str, client_id: str, client_secret: str, port: int) -> ApacheRP:
    """Start httpd; `port` is chosen first so the client can be registered with its URIs."""
    root = workdir / f"apache-{port}"
    for folder in ("protected", "silent"):
        (root / "htdocs" / folder).mkdir(parents=True)
        (root / "htdocs" / folder / "index.shtml").write_text(PAGE)
    (root / "htdocs" / "loggedout.html").write_text("<!doctype html><p>logged out</p>")
    user = "www-data" if os.geteuid() == 0 else os.environ.get("USER", "nobody")
    group = "www-data" if os.geteuid() == 0 else user
    (root / "httpd.conf").write_text(
        CONFIG.format(
            root=root,
            port=port,
            modules=MODULES,
            issuer=issuer,
            client_id=client_id,
            client_secret=client_secret,
            passphrase=secrets.token_hex(16),
            user=user,
            group=group,
            oidc_log_level=os.environ.get("IDP_TEST_OIDC_LOG", "warn"),
        )
    )
    if os.geteuid() == 0:
        shutil.chown(root, user, group)
        for path in root.rglob("*"):
            shutil.chown(path, user, group)
        root.chmod(0o755)
        for parent in root.parents:
            if parent == Path("/"):
                break
            parent.chmod(parent.stat().st_mode | 0o005)
    process = subprocess.Popen(
        [APACHE, "-f", str(root / "httpd.conf"), "-DFOREGROUND"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    rp = ApacheRP(port=port, root=root, client_id=client_id, process=process)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RuntimeError(f"apache exited: {err}\n{rp.log()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return rp
        except OSError:
            time.sleep(0.1)
    rp.stop()
    raise RuntimeError("apache did not start listening")
