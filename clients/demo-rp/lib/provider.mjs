// The identity provider as this relying party sees it: discovery (openid-client), and the
// validation of back-channel logout tokens (jose, against the provider's JWKS).

import { createRemoteJWKSet, jwtVerify } from "jose";
import * as client from "openid-client";

export const BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout";
const LOGOUT_TOKEN_MAX_LENGTH = 16384;
// The provider mints a fresh token for every attempt, so an old one is suspicious.
const LOGOUT_TOKEN_MAX_AGE_SECONDS = 300;
const CLOCK_TOLERANCE_SECONDS = 60;
const JTI_MEMORY_MS = 2 * (LOGOUT_TOKEN_MAX_AGE_SECONDS + CLOCK_TOLERANCE_SECONDS) * 1000;

export class LogoutTokenError extends Error {}

function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export class Provider {
  constructor(settings) {
    this.settings = settings;
    this.configuration = null;
    this.keySet = null;
    this.seenJti = new Map(); // jti -> time it may be forgotten
  }

  // Discovery happens on first use and is retried after a failure, so the relying party
  // may start before the provider does.
  config() {
    if (!this.configuration) {
      const issuer = new URL(this.settings.issuer);
      const options =
        issuer.protocol === "http:" ? { execute: [client.allowInsecureRequests] } : undefined;
      this.configuration = client
        .discovery(
          issuer,
          this.settings.clientId,
          undefined,
          client.ClientSecretBasic(this.settings.clientSecret),
          options,
        )
        .then((configuration) => {
          // Check the ID token's signature against the JWKS too, not only TLS to the token
          // endpoint: the demo shows what a careful relying party does.
          client.enableNonRepudiationChecks(configuration);
          return configuration;
        })
        .catch((error) => {
          this.configuration = null;
          throw error;
        });
    }
    return this.configuration;
  }

  async metadata() {
    return (await this.config()).serverMetadata();
  }

  async jwks() {
    if (!this.keySet) {
      const metadata = await this.metadata();
      // Fetched when needed and fetched again on an unknown `kid` (key rotation).
      this.keySet = createRemoteJWKSet(new URL(metadata.jwks_uri));
    }
    return this.keySet;
  }

  // OpenID Connect Back-Channel Logout 1.0, section 2.6: returns { sid, sub } or throws
  // LogoutTokenError with a short reason.
  async validateLogoutToken(token) {
    if (typeof token !== "string" || token.length === 0) {
      throw new LogoutTokenError("logout_token is missing");
    }
    if (token.length > LOGOUT_TOKEN_MAX_LENGTH) {
      throw new LogoutTokenError("logout_token is too long");
    }
    const metadata = await this.metadata();
    // Asymmetric algorithms the provider announces; never "none" or a shared-secret MAC.
    const algorithms = (metadata.id_token_signing_alg_values_supported || ["RS256"]).filter(
      (alg) => alg !== "none" && !alg.startsWith("HS"),
    );
    let payload;
    try {
      // Steps 2 and 3: signature against the JWKS, alg, iss, aud, iat (and exp when
      // present); section 2.4: explicit typing, typ logout+jwt.
      ({ payload } = await jwtVerify(token, await this.jwks(), {
        issuer: metadata.issuer,
        audience: this.settings.clientId,
        algorithms,
        typ: "logout+jwt",
        requiredClaims: ["iat", "jti", "events"],
        maxTokenAge: LOGOUT_TOKEN_MAX_AGE_SECONDS,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      }));
    } catch (error) {
      throw new LogoutTokenError(error?.message || "the logout token is not valid");
    }
    // Step 4: a sub, a sid, or both.
    const { sid, sub } = payload;
    if (sid !== undefined && (typeof sid !== "string" || sid === "")) {
      throw new LogoutTokenError('"sid" must be a non-empty string');
    }
    if (sub !== undefined && (typeof sub !== "string" || sub === "")) {
      throw new LogoutTokenError('"sub" must be a non-empty string');
    }
    if (sid === undefined && sub === undefined) {
      throw new LogoutTokenError('a logout token needs "sid", "sub" or both');
    }
    // Step 5: the back-channel logout event, whose value is a JSON object.
    if (!isObject(payload.events) || !isObject(payload.events[BACKCHANNEL_EVENT])) {
      throw new LogoutTokenError(`"events" must hold ${BACKCHANNEL_EVENT} with an object`);
    }
    // Step 6: never a nonce (so an ID token cannot pass for a logout token).
    if (Object.hasOwn(payload, "nonce")) {
      throw new LogoutTokenError('a logout token must not contain "nonce"');
    }
    // Step 7: the same jti twice is a replay.
    if (typeof payload.jti !== "string" || payload.jti === "") {
      throw new LogoutTokenError('"jti" must be a non-empty string');
    }
    const now = Date.now();
    for (const [jti, until] of this.seenJti) {
      if (until < now) this.seenJti.delete(jti);
    }
    if (this.seenJti.has(payload.jti)) {
      throw new LogoutTokenError("this logout token was already received (jti replay)");
    }
    this.seenJti.set(payload.jti, now + JTI_MEMORY_MS);
    return { sid, sub };
  }
}
