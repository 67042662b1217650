// A stand-in for the national public-service portal's sign-in (xacthuc.dichvucong.gov.vn),
// made with panva's oidc-provider, for the tests of the upstream broker.
//
// What it copies from what relying parties publish about the real one:
// - no discovery document (/.well-known/* answers 404): endpoints are configured one by one,
//   /oauth2/authorize, /oauth2/token, /oauth2/userinfo; the JWKS at /oauth2/jwks and the
//   logout URL /oauth2/logout are "given out of band";
// - code flow with scope=openid, acr_values LoA1/LoA2 and `acr` in the ID token;
// - a thin ID token (sub, acr, amr, sid...): the person's data only at userinfo, in
//   PascalCase Vietnamese claims (SoDinhDanh, HoVaTen, NgayThangNamSinh, ...);
// - back-channel logout toward its relying parties when a session ends.
//
// Configuration, from the environment (set by tests/helpers/upstreams.py):
//   PORT      port on 127.0.0.1
//   ISSUER    issuer identifier (http://127.0.0.1:PORT)
//   CLIENTS   JSON list of client metadata (client_id, client_secret, redirect_uris, ...)
//   ACCOUNTS  JSON object: username -> userinfo claims (with `sub`)
//   JWKS      JSON {keys: [...]} with private signing keys (the tests forge tokens with it)
//
// Test-only routes (never in a real portal):
//   GET  /test/sessions                 the live sessions: [{uid, accountId, clients: {id: sid}}]
//   POST /test/backchannel-logout       form or JSON {username|sub}: ends that person's
//                                       sessions here and posts a logout token to each
//                                       relying party of them; answers {sent, failed}.

import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const PORT = Number(process.env.PORT || 0);
const ISSUER = process.env.ISSUER || `http://127.0.0.1:${PORT}`;
const CLIENTS = JSON.parse(process.env.CLIENTS || '[]');
const ACCOUNTS = JSON.parse(process.env.ACCOUNTS || '{}');
const JWKS = process.env.JWKS ? JSON.parse(process.env.JWKS) : undefined;
const LEVELS = ['LoA1', 'LoA2'];
const USERINFO_CLAIMS = [
  'sub', 'SoDinhDanh', 'HoVaTen', 'NgayThangNamSinh', 'LoaiTaiKhoan', 'ThuDienTu',
  'SoDienThoai', 'TechID', 'loAs',
  // Not the portal's: lets a test play a standard upstream that vouches for an address.
  'email', 'email_verified',
];

// ------------------------------------------------------------------ storage (in memory)

// The adapter keeps everything in Maps so that /test/sessions can list the sessions.
const stores = new Map();

class MemoryAdapter {
  constructor(name) {
    this.name = name;
    if (!stores.has(name)) stores.set(name, new Map());
    this.items = stores.get(name);
  }

  async upsert(id, payload, expiresIn) {
    const expires = expiresIn ? Date.now() + expiresIn * 1000 : undefined;
    this.items.set(id, { payload: { ...payload }, expires });
  }

  async find(id) {
    const item = this.items.get(id);
    if (!item) return undefined;
    if (item.expires && item.expires < Date.now()) {
      this.items.delete(id);
      return undefined;
    }
    return item.payload;
  }

  async findByUid(uid) {
    for (const [id, item] of this.items) {
      if (item.payload.uid === uid) return this.find(id);
    }
    return undefined;
  }

  async findByUserCode() {
    return undefined;
  }

  async consume(id) {
    const item = this.items.get(id);
    if (item) item.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    this.items.delete(id);
  }

  async revokeByGrantId(grantId) {
    for (const [id, item] of this.items) {
      if (item.payload.grantId === grantId) this.items.delete(id);
    }
  }
}

function liveSessions() {
  const sessions = stores.get('Session') || new Map();
  const now = Date.now();
  return [...sessions.entries()]
    .filter(([, item]) => !item.expires || item.expires > now)
    .filter(([, item]) => item.payload.accountId)
    .map(([id, item]) => ({
      id,
      uid: item.payload.uid,
      accountId: item.payload.accountId,
      clients: Object.fromEntries(
        Object.entries(item.payload.authorizations || {}).map(([clientId, a]) => [clientId, a.sid]),
      ),
    }));
}

// ------------------------------------------------------------------ accounts

function accountFor(id) {
  const entry = Object.values(ACCOUNTS).find((claims) => claims.sub === id);
  if (!entry) return undefined;
  return {
    accountId: id,
    // Thin ID token: the person's data only at userinfo, as at the portal.
    async claims(use) {
      return use === 'userinfo' ? { ...entry } : { sub: id };
    },
  };
}

function levelFor(params) {
  const requested = String(params.acr_values || '').split(' ').filter((v) => LEVELS.includes(v));
  return requested[0] || 'LoA1';
}

// ------------------------------------------------------------------ pages

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

function loginPage(uid, error) {
  const message = error ? `<p role="alert">${escapeHtml(error)}</p>` : '';
  return page('Cổng Dịch vụ công quốc gia - Đăng nhập (môi trường thử)', `${message}
<form method="post" action="/interaction/${uid}/login">
  <label>Tên đăng nhập <input name="username" autocomplete="username" autofocus></label>
  <button type="submit">Đăng nhập</button>
</form>`);
}

async function logoutSource(ctx, form) {
  // The confirmation form submits itself, as the portal's own logout does not ask twice.
  ctx.body = page('Đăng xuất khỏi Cổng Dịch vụ công quốc gia', `${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Đăng xuất</button>
<script>document.forms['op.logoutForm'].insertAdjacentHTML('beforeend', '<input type="hidden" name="logout" value="yes">'); document.forms['op.logoutForm'].submit();</script>`);
}

async function postLogoutSuccessSource(ctx) {
  ctx.body = page('Đã đăng xuất', '<p>Bạn đã đăng xuất khỏi Cổng Dịch vụ công quốc gia.</p>');
}

// ------------------------------------------------------------------ provider

const configuration = {
  adapter: MemoryAdapter,
  clients: CLIENTS,
  jwks: JWKS,
  findAccount: async (ctx, id) => accountFor(id),
  acrValues: LEVELS,
  claims: { openid: USERINFO_CLAIMS, acr: null, amr: null, sid: null, auth_time: null },
  conformIdTokenClaims: true,
  scopes: ['openid'],
  routes: {
    authorization: '/oauth2/authorize',
    token: '/oauth2/token',
    userinfo: '/oauth2/userinfo',
    jwks: '/oauth2/jwks',
    end_session: '/oauth2/logout',
  },
  features: {
    devInteractions: { enabled: false },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
    userinfo: { enabled: true },
  },
  pkce: { required: () => false },
  cookies: {
    keys: ['national-portal-stand-in-cookie-key'],
    names: { session: 'np_session', interaction: 'np_interaction', resume: 'np_resume' },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  // Every client of the stand-in is first-party: consent is granted without asking.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid');
    await grant.save();
    return grant;
  },
  // Loopback relying parties: oidc-provider's own SSRF guard would refuse 127.0.0.1.
  fetch: (url, options) => {
    const { dispatcher, ...rest } = options;
    return globalThis.fetch(url, rest);
  },
  ttl: {
    AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600,
    Session: 3600, Grant: 3600,
  },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Lỗi', `<pre>${escapeHtml(JSON.stringify(out))}</pre>`);
  },
};

const provider = new Provider(ISSUER, configuration);
provider.proxy = false;

provider.on('backchannel.error', (ctx, error, client) => {
  console.error(`back-channel logout to ${client.clientId} failed: ${error.message}`);
});

// ------------------------------------------------------------------ routes around it

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  if ((req.headers['content-type'] || '').includes('application/json')) {
    return text ? JSON.parse(text) : {};
  }
  return Object.fromEntries(new URLSearchParams(text));
}

function send(res, status, body, type = 'text/html; charset=utf-8') {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, page('Lỗi', '<p>Phiên đăng nhập không khớp.</p>'));
  if (req.method === 'GET') return send(res, 200, loginPage(uid));
  if (action !== 'login') return send(res, 404, page('Không tìm thấy', ''));
  const form = await readForm(req);
  const claims = ACCOUNTS[String(form.username || '').trim()];
  if (!claims) return send(res, 200, loginPage(uid, 'Tên đăng nhập không đúng.'));
  const result = {
    login: { accountId: claims.sub, acr: levelFor(details.params), amr: ['pwd'] },
  };
  return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

async function backchannelLogout(req, res) {
  const form = await readForm(req);
  const sub = form.sub || ACCOUNTS[form.username]?.sub;
  let sent = 0;
  const failed = [];
  for (const session of liveSessions().filter((s) => s.accountId === sub)) {
    for (const [clientId, sid] of Object.entries(session.clients)) {
      const client = await provider.Client.find(clientId);
      if (!client?.backchannelLogoutUri) continue;
      try {
        await client.backchannelLogout(sub, sid);
        sent += 1;
      } catch (error) {
        failed.push(`${clientId}: ${error.message}`);
      }
    }
    stores.get('Session').delete(session.id);
  }
  send(res, 200, JSON.stringify({ sent, failed }), 'application/json');
}

const callback = provider.callback();

const server = createServer(async (req, res) => {
  try {
    const url = new URL(req.url, ISSUER);
    if (url.pathname.startsWith('/.well-known/')) {
      return send(res, 404, page('Không tìm thấy', '<p>Không có tài liệu khám phá.</p>'));
    }
    const match = url.pathname.match(/^\/interaction\/([^/]+)(?:\/([a-z]+))?$/);
    if (match) return await interaction(req, res, match[1], match[2]);
    if (url.pathname === '/test/sessions') {
      return send(res, 200, JSON.stringify(liveSessions()), 'application/json');
    }
    if (url.pathname === '/test/backchannel-logout' && req.method === 'POST') {
      return await backchannelLogout(req, res);
    }
    return callback(req, res);
  } catch (error) {
    console.error(error);
    return send(res, 500, page('Lỗi', `<pre>${escapeHtml(error.message)}</pre>`));
  }
});

server.listen(PORT, '127.0.0.1', () => {
  console.log(`national portal stand-in listening on ${ISSUER}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
