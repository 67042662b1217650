// Settings of the demo relying party, all from the environment (see README.md).

export class SettingsError extends Error {}

function port(value, name) {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1 || number > 65535) {
    throw new SettingsError(`${name} must be a port number (1-65535), not ${JSON.stringify(value)}`);
  }
  return number;
}

function httpUrl(value, name) {
  let url;
  try {
    url = new URL(value);
  } catch {
    throw new SettingsError(`${name} must be an http(s) URL, not ${JSON.stringify(value)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new SettingsError(`${name} must be an http(s) URL, not ${JSON.stringify(value)}`);
  }
  return url;
}

export function loadSettings(env = process.env) {
  const clientId = env.CLIENT_ID;
  if (!clientId) {
    throw new SettingsError("CLIENT_ID is required (the client_id registered at the provider)");
  }
  const clientSecret = env.CLIENT_SECRET;
  if (!clientSecret) {
    throw new SettingsError("CLIENT_SECRET is required (the client's secret at the provider)");
  }
  const listenPort = port(env.PORT ?? "8101", "PORT");
  // The issuer is compared exactly with the provider's metadata: no trailing slash added.
  const issuer = env.ISSUER || "http://127.0.0.1:5000";
  httpUrl(issuer, "ISSUER");
  const baseUrl = httpUrl(env.BASE_URL || `http://127.0.0.1:${listenPort}`, "BASE_URL")
    .href.replace(/\/+$/, "");
  return Object.freeze({
    issuer,
    clientId,
    clientSecret,
    port: listenPort,
    host: env.HOST || "127.0.0.1",
    baseUrl,
    redirectUri: `${baseUrl}/auth/callback`,
    postLogoutRedirectUri: `${baseUrl}/`,
    scope: env.SCOPE || "openid profile email org",
    title: env.TITLE || clientId,
    titleEn: env.TITLE_EN || "",
    // Cookies are not separated by port: every relying party on 127.0.0.1 needs its own name.
    cookieName: env.COOKIE_NAME || `rp_${clientId.replace(/[^A-Za-z0-9_-]/g, "_")}`,
    secureCookie: baseUrl.startsWith("https:"),
  });
}
