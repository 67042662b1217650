// A small relying party of the provincial single sign-on, for the demo (`make demo`) and the
// single sign-on / sign-out tests (tests/rp/). Node's http module and openid-client only.
//
//   GET  /                          who is signed in, or a "Đăng nhập" link
//   GET  /login[?prompt=none|login] authorization code flow with PKCE (S256), state, nonce
//   GET  /auth/callback             the redirect URI
//   GET  /logout, POST /logout      RP-Initiated Logout: to the provider's end_session_endpoint
//   POST /auth/backchannel-logout   Back-Channel Logout 1.0 (logout_token)
//   GET  /auth/frontchannel-logout  Front-Channel Logout 1.0 (iss, sid), framed by the provider
//   GET  /api/session               this browser's session as JSON (for tests)
//
// Settings come from the environment: see README.md.

import http from "node:http";

import * as client from "openid-client";

import * as pages from "./lib/pages.mjs";
import { LogoutTokenError, Provider } from "./lib/provider.mjs";
import {
  SessionStore,
  randomToken,
  readCookie,
  sameToken,
  sessionCookie,
} from "./lib/sessions.mjs";
import { SettingsError, loadSettings } from "./lib/settings.mjs";

const BODY_LIMIT_BYTES = 64 * 1024;
const PROMPTS = new Set(["none", "login"]);

class HttpError extends Error {
  constructor(status, title, titleEn, code) {
    super(titleEn);
    this.status = status;
    this.title = title;
    this.titleEn = titleEn;
    this.code = code;
  }
}

let settings;
try {
  settings = loadSettings();
} catch (error) {
  if (error instanceof SettingsError) {
    console.error(`demo-rp: ${error.message}`);
    process.exit(2);
  }
  throw error;
}
const provider = new Provider(settings);
const sessions = new SessionStore();
const issuerOrigin = new URL(settings.issuer).origin;

function log(message) {
  console.log(`[${settings.clientId}] ${message}`);
}

// ------------------------------------------------------------------------ responses

function securityHeaders(frameAncestors = "'none'") {
  return {
    // Forms post here and then travel to the provider (sign-out), nowhere else.
    "Content-Security-Policy":
      `default-src 'none'; style-src 'unsafe-inline'; form-action 'self' ${issuerOrigin}; ` +
      `frame-ancestors ${frameAncestors}; base-uri 'none'`,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
  };
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, {
    "Content-Type": "text/html; charset=utf-8",
    ...securityHeaders(),
    ...headers,
  });
  res.end(body);
}

function sendJson(res, status, data) {
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
  });
  res.end(JSON.stringify(data));
}

function redirect(res, location, cookies = []) {
  const headers = { Location: location, "Cache-Control": "no-store" };
  if (cookies.length) headers["Set-Cookie"] = cookies;
  res.writeHead(303, headers);
  res.end();
}

async function readForm(req) {
  const type = (req.headers["content-type"] || "").split(";")[0].trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") {
    throw new HttpError(
      415,
      "Kiểu dữ liệu không được hỗ trợ",
      "Expected application/x-www-form-urlencoded",
      "invalid_request",
    );
  }
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > BODY_LIMIT_BYTES) {
      throw new HttpError(413, "Yêu cầu quá lớn", "Request body too large", "invalid_request");
    }
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

function currentSession(req) {
  return sessions.get(readCookie(req.headers.cookie, settings.cookieName));
}

// ------------------------------------------------------------------------ handlers

async function home(req, res, url) {
  const session = currentSession(req);
  if (session?.user) {
    send(res, 200, pages.homeSignedIn(settings, session));
    return;
  }
  // Back from the provider's sign-out with the state we sent (RP-Initiated Logout, 3).
  const state = url.searchParams.get("state");
  const signedOut = Boolean(session?.logoutState && state && sameToken(state, session.logoutState));
  if (signedOut) session.logoutState = null;
  send(res, 200, pages.homeSignedOut(settings, { signedOut }));
}

async function login(req, res, url) {
  const prompt = url.searchParams.get("prompt");
  if (prompt !== null && !PROMPTS.has(prompt)) {
    throw new HttpError(400, "Tham số prompt không hợp lệ", "prompt must be none or login");
  }
  const config = await provider.config();
  const cookies = [];
  let session = currentSession(req);
  if (!session) {
    session = sessions.create();
    cookies.push(sessionCookie(settings, session.id));
  }
  const verifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const state = client.randomState();
  sessions.addPending(session, state, { verifier, nonce, prompt });
  const parameters = {
    redirect_uri: settings.redirectUri,
    scope: settings.scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
  };
  if (prompt) parameters.prompt = prompt;
  redirect(res, client.buildAuthorizationUrl(config, parameters).href, cookies);
}

async function callback(req, res, url) {
  const session = currentSession(req);
  const state = url.searchParams.get("state");
  const pending = sessions.takePending(session, state);
  if (!pending) {
    throw new HttpError(
      400,
      "Yêu cầu đăng nhập không hợp lệ hoặc đã hết hạn",
      "Unknown or expired sign-in request (state)",
      "invalid_state",
    );
  }
  const config = await provider.config();
  let tokens;
  try {
    tokens = await client.authorizationCodeGrant(
      config,
      new URL(url.pathname + url.search, settings.baseUrl),
      {
        pkceCodeVerifier: pending.verifier,
        expectedNonce: pending.nonce,
        expectedState: state,
        idTokenExpected: true,
      },
    );
  } catch (error) {
    if (error instanceof client.AuthorizationResponseError) {
      // The provider answered with an error, e.g. login_required for prompt=none.
      session.lastError = error.error;
      log(`sign-in answered ${error.error}${pending.prompt ? ` (prompt=${pending.prompt})` : ""}`);
      send(
        res,
        400,
        pages.errorPage(settings, {
          title: "Chưa đăng nhập được",
          titleEn: "The provider did not sign you in",
          code: error.error,
          description: error.error_description,
        }),
      );
      return;
    }
    log(`sign-in failed: ${error?.code || error?.name || "error"}`);
    throw new HttpError(
      502,
      "Không hoàn tất được đăng nhập",
      "Could not complete the sign-in with the provider",
      "sign_in_failed",
    );
  }
  const claims = tokens.claims();
  let userinfo = {};
  try {
    userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  } catch (error) {
    log(`userinfo failed: ${error?.code || error?.name || "error"}`);
  }
  sessions.rotate(session);
  session.user = {
    sub: claims.sub,
    sid: typeof claims.sid === "string" ? claims.sid : null,
    claims,
    userinfo,
    idToken: tokens.id_token,
  };
  session.lastError = null;
  log(`signed in sub=${claims.sub} sid=${session.user.sid ?? "-"}`);
  redirect(res, "/", [sessionCookie(settings, session.id)]);
}

async function logout(req, res) {
  const session = currentSession(req);
  if (req.method === "GET") {
    if (!session?.user) {
      redirect(res, "/");
      return;
    }
    send(res, 200, pages.logoutPage(settings, session));
    return;
  }
  const form = await readForm(req);
  if (!session || !sameToken(form.get("csrf_token"), session.csrf)) {
    throw new HttpError(
      403,
      "Phiên làm việc đã hết hạn, vui lòng thử lại",
      "The form expired; please try again",
      "invalid_csrf_token",
    );
  }
  const user = session.user;
  sessions.destroy(session);
  if (!user) {
    redirect(res, "/");
    return;
  }
  log(`signing out sub=${user.sub} sid=${user.sid ?? "-"}`);
  const metadata = await provider.metadata();
  if (!metadata.end_session_endpoint) {
    redirect(res, "/");
    return;
  }
  // RP-Initiated Logout 1.0: the provider ends the SSO session and tells the other apps.
  const next = sessions.create();
  next.logoutState = randomToken(16);
  const target = client.buildEndSessionUrl(await provider.config(), {
    id_token_hint: user.idToken,
    post_logout_redirect_uri: settings.postLogoutRedirectUri,
    state: next.logoutState,
  });
  redirect(res, target.href, [sessionCookie(settings, next.id)]);
}

async function backchannelLogout(req, res) {
  let claims;
  try {
    const form = await readForm(req);
    claims = await provider.validateLogoutToken(form.get("logout_token"));
  } catch (error) {
    if (error instanceof LogoutTokenError || error instanceof HttpError) {
      // Section 2.8: 400 with an error code when the logout token is not accepted.
      log(`back-channel logout refused: ${error.message}`);
      sendJson(res, 400, { error: "invalid_request", error_description: error.message });
      return;
    }
    throw error;
  }
  const ended = sessions.endSignedIn(claims);
  log(`back-channel logout sid=${claims.sid ?? "-"} sub=${claims.sub ?? "-"}: ${ended} ended`);
  res.writeHead(200, { "Cache-Control": "no-store" });
  res.end();
}

async function frontchannelLogout(req, res, url) {
  const iss = url.searchParams.get("iss");
  const sid = url.searchParams.get("sid");
  // Front-Channel Logout 1.0, section 2: iss and sid come together, and iss is ours.
  if ((iss !== null || sid !== null) && (iss !== settings.issuer || !sid)) {
    send(
      res,
      400,
      pages.errorPage(settings, {
        title: "Yêu cầu đăng xuất không hợp lệ",
        titleEn: "Invalid front-channel logout request (iss, sid)",
        code: "invalid_request",
      }),
      securityHeaders(issuerOrigin),
    );
    return;
  }
  let ended = 0;
  if (sid) {
    ended = sessions.endSignedIn({ sid });
  } else {
    // Without a sid the request speaks of this browser: end its session.
    const session = currentSession(req);
    if (session?.user) {
      sessions.destroy(session);
      ended = 1;
    }
  }
  log(`front-channel logout sid=${sid ?? "-"}: ${ended} ended`);
  // Framed by the provider's signed-out page, and by nothing else.
  send(res, 200, pages.frontchannelPage(settings, ended), {
    ...securityHeaders(issuerOrigin),
    "Cache-Control": "no-cache, no-store",
    Pragma: "no-cache",
  });
}

function apiSession(req, res) {
  const session = currentSession(req);
  const user = session?.user;
  sendJson(res, 200, {
    client_id: settings.clientId,
    signed_in: Boolean(user),
    sub: user?.sub ?? null,
    sid: user?.sid ?? null,
    name: user ? (user.userinfo.name ?? user.claims.name ?? null) : null,
    email: user ? (user.userinfo.email ?? user.claims.email ?? null) : null,
    last_error: session?.lastError ?? null,
  });
}

const ROUTES = {
  "/": { GET: home },
  "/login": { GET: login },
  "/auth/callback": { GET: callback },
  "/logout": { GET: logout, POST: logout },
  "/auth/backchannel-logout": { POST: backchannelLogout },
  "/auth/frontchannel-logout": { GET: frontchannelLogout },
  "/api/session": { GET: apiSession },
};

async function handle(req, res) {
  let url;
  try {
    url = new URL(req.url, settings.baseUrl);
  } catch {
    throw new HttpError(400, "Địa chỉ không hợp lệ", "Bad request URL", "invalid_request");
  }
  const route = ROUTES[url.pathname];
  if (!route) {
    throw new HttpError(404, "Không tìm thấy trang", "Page not found", "not_found");
  }
  const method = req.method === "HEAD" ? "GET" : req.method;
  const handler = route[method];
  if (!handler) {
    res.setHeader("Allow", Object.keys(route).join(", "));
    throw new HttpError(405, "Phương thức không được hỗ trợ", "Method not allowed", "invalid_request");
  }
  await handler(req, res, url);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((error) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    let problem = error;
    if (!(error instanceof HttpError)) {
      // No stack trace or library message in a page: a short line in the log instead.
      log(`error on ${req.method} ${req.url?.split("?")[0]}: ${error?.code || error?.name}`);
      problem = new HttpError(
        502,
        "Không kết nối được với hệ thống đăng nhập",
        "The identity provider could not be reached",
        "provider_unavailable",
      );
    }
    send(
      res,
      problem.status,
      pages.errorPage(settings, {
        title: problem.title,
        titleEn: problem.titleEn,
        code: problem.code,
      }),
    );
  });
});

server.listen(settings.port, settings.host, () => {
  log(`listening on ${settings.baseUrl} (issuer ${settings.issuer})`);
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
