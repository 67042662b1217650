// A relying party built on openid-client, run by tests/interop/test_openid_client.py.
// It signs in through the provider's real pages with plain HTTP (no browser), then lets
// openid-client do the protocol: discovery, code + PKCE, ID token validation (signature
// against the JWKS included), userinfo, refresh, introspection and revocation.
// Input: a JSON object on argv[2]; output: one JSON object on stdout.
import * as client from "openid-client";

const input = JSON.parse(process.argv[2]);
const cookies = new Map();

function remember(response) {
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(";");
    const at = pair.indexOf("=");
    cookies.set(pair.slice(0, at), pair.slice(at + 1));
  }
}

async function browse(url, init = {}) {
  const headers = { ...(init.headers || {}) };
  if (cookies.size) {
    headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }
  const response = await fetch(url, { ...init, headers, redirect: "manual" });
  remember(response);
  return response;
}

async function signIn(authorizationUrl) {
  // The provider sends us to its sign-in page, which sends us back after the password.
  let response = await browse(authorizationUrl);
  const loginUrl = new URL(response.headers.get("location"), input.issuer);
  const page = await (await browse(loginUrl)).text();
  const csrf = page.match(/name="csrf_token" type="hidden" value="([^"]+)"/)[1];
  const form = new URLSearchParams({
    email: input.email,
    password: input.password,
    csrf_token: csrf,
    next: loginUrl.searchParams.get("next"),
  });
  response = await browse(new URL("/login", input.issuer), {
    method: "POST",
    body: form,
    headers: { "content-type": "application/x-www-form-urlencoded" },
  });
  response = await browse(new URL(response.headers.get("location"), input.issuer));
  return new URL(response.headers.get("location"));
}

const config = await client.discovery(
  new URL(input.issuer),
  input.client_id,
  { id_token_signed_response_alg: "RS256" },
  client.ClientSecretBasic(input.client_secret),
  { execute: [client.allowInsecureRequests] },
);
// Also verify the ID token's signature against the provider's JWKS.
client.enableNonRepudiationChecks(config);

const verifier = client.randomPKCECodeVerifier();
const nonce = client.randomNonce();
const state = client.randomState();
const authorizationUrl = client.buildAuthorizationUrl(config, {
  redirect_uri: input.redirect_uri,
  scope: "openid profile email org offline_access",
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: "S256",
  nonce,
  state,
});
const callback = await signIn(authorizationUrl);

const tokens = await client.authorizationCodeGrant(config, callback, {
  pkceCodeVerifier: verifier,
  expectedNonce: nonce,
  expectedState: state,
  idTokenExpected: true,
  maxAge: 3600,
});
const claims = tokens.claims();
const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
const introspection = await client.tokenIntrospection(config, refreshed.access_token);
await client.tokenRevocation(config, refreshed.refresh_token);
const afterRevocation = await client.tokenIntrospection(config, refreshed.access_token);
let reuse = "accepted";
try {
  await client.refreshTokenGrant(config, tokens.refresh_token);
} catch (error) {
  reuse = error.error || error.code || String(error);
}

process.stdout.write(
  JSON.stringify({
    server: config.serverMetadata(),
    iss_in_callback: callback.searchParams.get("iss"),
    id_token_claims: claims,
    refreshed_claims: refreshed.claims(),
    userinfo,
    introspection,
    after_revocation: afterRevocation,
    reuse,
    scope: tokens.scope,
  }),
);
