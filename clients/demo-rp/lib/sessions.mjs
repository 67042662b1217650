// In-memory sessions of the relying party, keyed by a random cookie value.
//
// A session is anonymous until the sign-in completes; then `user` holds the ID token's
// claims, the userinfo answer, the ID token (for id_token_hint) and the provider's `sid`,
// which back-channel and front-channel logout use to find it.

import { randomBytes, timingSafeEqual } from "node:crypto";

const IDLE_MS = 8 * 3600 * 1000;
const PENDING_MS = 10 * 60 * 1000;
// A demo keeps its memory bounded: the oldest sessions go first.
const MAX_SESSIONS = 10000;
const MAX_PENDING = 5;

export function randomToken(bytes = 32) {
  return randomBytes(bytes).toString("base64url");
}

export function sameToken(a, b) {
  if (typeof a !== "string" || typeof b !== "string") return false;
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export class SessionStore {
  constructor() {
    this.sessions = new Map();
  }

  create() {
    const now = Date.now();
    const session = {
      id: randomToken(),
      created: now,
      seen: now,
      csrf: randomToken(24),
      pending: new Map(), // state -> { verifier, nonce, prompt, created }
      user: null,
      lastError: null,
      logoutState: null,
    };
    this.sessions.set(session.id, session);
    while (this.sessions.size > MAX_SESSIONS) {
      this.sessions.delete(this.sessions.keys().next().value);
    }
    return session;
  }

  get(id) {
    if (typeof id !== "string") return null;
    const session = this.sessions.get(id);
    if (!session) return null;
    if (Date.now() - session.seen > IDLE_MS) {
      this.sessions.delete(id);
      return null;
    }
    session.seen = Date.now();
    return session;
  }

  // A new handle after sign-in, so a handle set before it (session fixation) is worthless.
  rotate(session) {
    this.sessions.delete(session.id);
    session.id = randomToken();
    session.csrf = randomToken(24);
    this.sessions.set(session.id, session);
    return session;
  }

  destroy(session) {
    this.sessions.delete(session.id);
  }

  // Ends the signed-in sessions matching the logout: by sid when the provider sent one
  // (and its sub, when both came), else every session of that sub. Returns how many.
  endSignedIn({ sid, sub }) {
    let ended = 0;
    for (const [id, session] of this.sessions) {
      const user = session.user;
      if (!user) continue;
      const match = sid ? user.sid === sid && (!sub || user.sub === sub) : user.sub === sub;
      if (match) {
        this.sessions.delete(id);
        ended += 1;
      }
    }
    return ended;
  }

  addPending(session, state, data) {
    const now = Date.now();
    for (const [key, value] of session.pending) {
      if (now - value.created > PENDING_MS) session.pending.delete(key);
    }
    while (session.pending.size >= MAX_PENDING) {
      session.pending.delete(session.pending.keys().next().value);
    }
    session.pending.set(state, { ...data, created: now });
  }

  takePending(session, state) {
    if (!session || typeof state !== "string") return null;
    const pending = session.pending.get(state);
    session.pending.delete(state);
    if (!pending || Date.now() - pending.created > PENDING_MS) return null;
    return pending;
  }
}

export function readCookie(header, name) {
  if (!header) return null;
  for (const part of header.split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name) {
      return part.slice(at + 1).trim();
    }
  }
  return null;
}

export function sessionCookie(settings, value) {
  const attributes = [`${settings.cookieName}=${value}`, "Path=/", "HttpOnly", "SameSite=Lax"];
  if (settings.secureCookie) attributes.push("Secure");
  return attributes.join("; ");
}
