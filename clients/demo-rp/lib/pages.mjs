// The pages: Vietnamese first, English second, no script.

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escape(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const STYLE = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1b1b;background:#f4f6f8}
header{background:#0b4f8a;color:#fff;padding:1rem 1.5rem}
header h1{margin:0;font-size:1.4rem}
header p{margin:.2rem 0 0;opacity:.85}
main{max-width:42rem;margin:1.5rem auto;background:#fff;padding:1.5rem;border-radius:6px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
.en{color:#4a4a4a;font-size:.9em}
header .en,button .en,.button .en{color:inherit;opacity:.9}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.4rem 1rem}
dt{font-weight:600}dd{margin:0;word-break:break-all}
.button,button{display:inline-block;background:#0b4f8a;color:#fff;border:0;border-radius:4px;padding:.6rem 1.2rem;font-size:1rem;text-decoration:none;cursor:pointer}
.notice{background:#e7f4e4;border-left:4px solid #2e7d32;padding:.6rem 1rem}
.error{background:#fdecea;border-left:4px solid #c62828;padding:.6rem 1rem}
code{background:#eef1f4;padding:0 .25rem}
`;

export function layout(settings, title, body) {
  const subtitle = settings.titleEn
    ? `<p class="en">${escape(settings.titleEn)} · demo relying party</p>`
    : `<p class="en">Ứng dụng mẫu · demo relying party</p>`;
  return `<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} · ${escape(settings.title)}</title>
<style>${STYLE}</style></head>
<body><header><h1>${escape(settings.title)}</h1>${subtitle}</header>
<main>${body}</main></body></html>`;
}

function unitText(claims) {
  const path = Array.isArray(claims.unit_path) ? claims.unit_path : [];
  const names = path.map((unit) => unit?.name).filter((name) => typeof name === "string");
  if (names.length) return names.join(" › ");
  return claims.unit_name || "";
}

function localTime(seconds) {
  if (typeof seconds !== "number") return "";
  return new Date(seconds * 1000).toLocaleString("vi-VN", { timeZone: "Asia/Ho_Chi_Minh" });
}

export function homeSignedIn(settings, session) {
  const { user } = session;
  const claims = { ...user.claims, ...user.userinfo };
  const rows = [
    ["Họ và tên", "Name", "name", claims.name],
    ["Thư điện tử", "E-mail", "email", claims.email],
    ["Đơn vị", "Unit", "unit", unitText(claims)],
    ["Chức danh", "Title", "title", claims.title],
    ["Mã định danh (sub)", "Subject", "sub", user.sub],
    ["Phiên SSO (sid)", "SSO session", "sid", user.sid],
    ["Mức xác thực (acr)", "Assurance", "acr", claims.acr],
    ["Đăng nhập lúc", "Signed in at", "auth-time", localTime(user.claims.auth_time)],
  ]
    .filter(([, , , value]) => value)
    .map(
      ([vi, en, id, value]) =>
        `<dt>${vi} <span class="en">${en}</span></dt><dd id="${id}">${escape(value)}</dd>`,
    )
    .join("\n");
  return layout(
    settings,
    "Trang chủ",
    `<p>Xin chào, <strong>${escape(claims.name || claims.email || user.sub)}</strong>.
<span class="en">You are signed in through the provincial single sign-on.</span></p>
<dl id="profile">${rows}</dl>
<form method="post" action="/logout">
<input type="hidden" name="csrf_token" value="${escape(session.csrf)}">
<button type="submit" id="logout">Đăng xuất <span class="en">/ Sign out</span></button>
</form>
<p class="en">Signing out here signs you out of every application of the province.
Đăng xuất ở đây sẽ đăng xuất khỏi mọi ứng dụng.</p>`,
  );
}

export function homeSignedOut(settings, { signedOut = false } = {}) {
  const notice = signedOut
    ? `<p class="notice" id="signed-out">Bạn đã đăng xuất. <span class="en">You are signed out.</span></p>`
    : "";
  return layout(
    settings,
    "Trang chủ",
    `${notice}<p>Bạn chưa đăng nhập. <span class="en">You are not signed in.</span></p>
<p><a class="button" id="login" href="/login">Đăng nhập</a>
<span class="en">Sign in with the provincial single sign-on</span></p>`,
  );
}

export function logoutPage(settings, session) {
  return layout(
    settings,
    "Đăng xuất",
    `<p>Đăng xuất khỏi ${escape(settings.title)} và mọi ứng dụng khác?
<span class="en">Sign out of this and every other application?</span></p>
<form method="post" action="/logout">
<input type="hidden" name="csrf_token" value="${escape(session.csrf)}">
<button type="submit" id="logout">Đăng xuất <span class="en">/ Sign out</span></button>
</form><p><a href="/">Quay lại <span class="en">Back</span></a></p>`,
  );
}

export function errorPage(settings, { title, titleEn, code, description }) {
  return layout(
    settings,
    title,
    `<p class="error"><strong>${escape(title)}</strong> <span class="en">${escape(titleEn)}</span></p>
${code ? `<p>Mã lỗi <span class="en">Error code</span>: <code id="error">${escape(code)}</code></p>` : ""}
${description ? `<p class="en" id="error-description">${escape(description)}</p>` : ""}
<p><a class="button" href="/">Trang chủ <span class="en">Home</span></a></p>`,
  );
}

export function frontchannelPage(settings, ended) {
  return `<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>Đã đăng xuất</title></head>
<body><p id="frontchannel" data-ended="${ended}">Đã đăng xuất khỏi ${escape(settings.title)}.
Signed out of ${escape(settings.titleEn || settings.title)}.</p></body></html>`;
}
