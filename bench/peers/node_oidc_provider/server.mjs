// node-oidc-provider as the peer of bench/peer.py: one Node.js process, everything in the
// package's default in-memory adapter, keys generated at start. Configured through the
// package's documented options only; nothing of it is patched.
//
// Environment (set by bench/peer.py):
//   PEER_PORT            port on 127.0.0.1
//   PEER_WEB_SECRET      secret of the confidential web client "bench-web"
//   PEER_MACHINE_SECRET  secret of the machine clients "bench-machine" and "bench-machine-opaque"
//   PEER_EMAIL, PEER_PASSWORD  the one account; the password is kept as an argon2id hash
//
// Token formats: access tokens of the authorization code and refresh grants are the
// package's default opaque tokens (userinfo accepts only those); client_credentials tokens
// of "bench-machine" are JWTs signed ES256 for a resource server (resource indicators), as
// the identity provider of this repository issues them; "bench-machine-opaque" gets the
// default opaque client_credentials token. ID tokens are RS256 (the OpenID Connect default).
import { generateKeyPairSync, randomUUID } from 'node:crypto';

import argon2 from 'argon2';
import Provider, { errors } from 'oidc-provider';

const port = Number(process.env.PEER_PORT);
const issuer = `http://127.0.0.1:${port}`;
const email = process.env.PEER_EMAIL;
const webSecret = process.env.PEER_WEB_SECRET;
const machineSecret = process.env.PEER_MACHINE_SECRET;
const REDIRECT = 'http://127.0.0.1:9/cb';
const RESOURCE = 'https://lgsp.haugiang.gov.vn';
const ACCOUNT_ID = 'bench-user';

// argon2id with the identity provider's default parameters (config/defaults.toml:
// 19 MiB, 2 passes, 1 lane); verified on libuv's thread pool.
const ARGON2 = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 };
const passwordHash = await argon2.hash(process.env.PEER_PASSWORD, ARGON2);
// Verified against when the e-mail is unknown, so that costs the same.
const dummyHash = await argon2.hash(randomUUID(), ARGON2);

function signingKey(type, options, alg) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: `${alg}-${randomUUID()}` };
}

const account = {
  accountId: ACCOUNT_ID,
  async claims() {
    return {
      sub: ACCOUNT_ID,
      name: 'Trần Thị Bích',
      family_name: 'Trần',
      middle_name: 'Thị',
      given_name: 'Bích',
      preferred_username: email,
      locale: 'vi',
      updated_at: 1764115200,
      email,
      email_verified: true,
    };
  },
};

const configuration = {
  clients: [
    {
      client_id: 'bench-web',
      client_secret: webSecret,
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'openid profile email offline_access',
    },
    {
      client_id: 'bench-machine',
      client_secret: machineSecret,
      redirect_uris: [],
      grant_types: ['client_credentials'],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      client_id: 'bench-machine-opaque',
      client_secret: machineSecret,
      redirect_uris: [],
      grant_types: ['client_credentials'],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: {
    keys: [
      signingKey('rsa', { modulusLength: 2048 }, 'RS256'),
      signingKey('ec', { namedCurve: 'P-256' }, 'ES256'),
    ],
  },
  claims: {
    openid: ['sub'],
    profile: [
      'name',
      'family_name',
      'middle_name',
      'given_name',
      'preferred_username',
      'locale',
      'updated_at',
    ],
    email: ['email', 'email_verified'],
  },
  scopes: ['openid', 'offline_access', 'profile', 'email'],
  async findAccount(ctx, sub) {
    return sub === ACCOUNT_ID ? account : undefined;
  },
  // The package grants offline_access only with prompt=consent (OpenID Connect Core 11),
  // which would ask for consent at every authorization; the identity provider of this
  // repository gives its first-party clients offline tokens without. So: a refresh token at
  // every code exchange of a client allowed the refresh_token grant, not ended with the
  // session (documented options issueRefreshToken and expiresWithSession).
  async issueRefreshToken(ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  async expiresWithSession() {
    return false;
  },
  // The identity provider of this repository rotates the refresh token at every use; the
  // package's default rotates confidential clients' tokens only after 70 % of their life.
  rotateRefreshToken: true,
  // Lifetimes of config/defaults.toml (the refresh token: the offline one's).
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    ClientCredentials: 600,
    Grant: 2592000,
    IdToken: 600,
    Interaction: 3600,
    RefreshToken: 2592000,
    Session: 43200,
  },
  interactions: {
    url(ctx, interaction) {
      return `/interaction/${interaction.uid}`;
    },
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // Any authenticated client (a resource server) may introspect.
      async allowedPolicy(ctx, client) {
        return client.clientAuthMethod !== 'none';
      },
    },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    resourceIndicators: {
      enabled: true,
      async defaultResource(ctx, client, oneOf) {
        if (oneOf) return oneOf;
        return client.clientId === 'bench-machine' ? RESOURCE : undefined;
      },
      async getResourceServerInfo(ctx, resourceIndicator) {
        if (resourceIndicator !== RESOURCE) throw new errors.InvalidTarget();
        return {
          scope: 'lgsp.read',
          audience: RESOURCE,
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
  },
};

const provider = new Provider(issuer, configuration);

async function readForm(req) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  return new URLSearchParams(raw);
}

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// The sign-in interaction: a page with a form, and its post. A right e-mail and password
// finish the login and grant the requested scopes at once (first-party consent), so the
// provider resumes the authorization request and redirects with a code.
provider.use(async (ctx, next) => {
  const match = /^\/interaction\/([^/]+)$/.exec(ctx.path);
  if (!match) return next();
  ctx.set('Cache-Control', 'no-store');
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (details.uid !== match[1] || details.prompt.name !== 'login') {
    ctx.throw(400, 'unexpected interaction');
  }
  if (ctx.method === 'GET') {
    ctx.type = 'html';
    ctx.body = `<!doctype html><title>Sign in</title>
<form method="post" action="/interaction/${escape(details.uid)}" autocomplete="off">
<input name="email" type="email" required><input name="password" type="password" required>
<button>Sign in</button></form>`;
    return undefined;
  }
  if (ctx.method !== 'POST') ctx.throw(405);
  const form = await readForm(ctx.req);
  const known = form.get('email') === email;
  const good = await argon2.verify(known ? passwordHash : dummyHash, form.get('password') ?? '');
  if (!(known && good)) {
    ctx.status = 401;
    ctx.body = 'wrong e-mail or password';
    return undefined;
  }
  const grant = new provider.Grant({ accountId: ACCOUNT_ID, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  const returnTo = await provider.interactionResult(
    ctx.req,
    ctx.res,
    { login: { accountId: ACCOUNT_ID }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
  ctx.status = 303;
  ctx.redirect(returnTo);
  return undefined;
});

const server = provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening on ${issuer}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
