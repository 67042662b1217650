-- Password sign-in at a provider whose sign-in page belongs to an authorization request
-- (node-oidc-provider's interactions, bench/peer.py): the authorization request without a
-- session (303 to /interaction/<uid>), the sign-in page (200, a form), the form post with
-- the e-mail and password (303 back to /auth/<uid>), and the resumed authorization (303 to
-- the redirect URI with a code and a new session cookie). A unit is that last redirect;
-- an answer of another shape (a redirect without a code, a page without its form) is a
-- failure; a wrong password answers 401.
--
-- wrk hands a script only the last Set-Cookie header of an answer. The provider's two
-- interaction cookies (_interaction for the page and its post, _interaction_resume for the
-- resumed request) both carry the interaction's uid, which the redirect's Location also
-- names, so the script sends each cookie with the uid of that Location.
function init(args)
  steps = {}
  units = 0
  failures = 0
  authorize = os.getenv("BENCH_AUTHORIZE")
  email = os.getenv("BENCH_EMAIL")
  password = os.getenv("BENCH_PASSWORD")
end

local function urlencode(s)
  return (string.gsub(s, "[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function request()
  local step = table.remove(steps)
  if step == nil then
    return wrk.format("GET", authorize)
  end
  if step.kind == "page" then
    return wrk.format("GET", "/interaction/" .. step.uid, { ["Cookie"] = "_interaction=" .. step.uid })
  end
  if step.kind == "post" then
    return wrk.format("POST", "/interaction/" .. step.uid, {
      ["Cookie"] = "_interaction=" .. step.uid,
      ["Content-Type"] = "application/x-www-form-urlencoded",
    }, "email=" .. urlencode(email) .. "&password=" .. urlencode(password))
  end
  return wrk.format("GET", "/auth/" .. step.uid, { ["Cookie"] = "_interaction_resume=" .. step.uid })
end

function response(status, headers, body)
  if status == 200 then
    local uid = string.match(body, 'action="/interaction/([%w_%-]+)"')
    if uid then table.insert(steps, { kind = "post", uid = uid })
    else failures = failures + 1 end
  elseif status == 302 or status == 303 then
    local location = headers["Location"] or headers["location"] or ""
    local uid = string.match(location, "^/interaction/([%w_%-]+)$")
    if uid then
      table.insert(steps, { kind = "page", uid = uid })
      return
    end
    uid = string.match(location, "/auth/([%w_%-]+)$")
    if uid then
      table.insert(steps, { kind = "resume", uid = uid })
    elseif string.match(location, "[?&]code=") then
      units = units + 1
    else
      failures = failures + 1
    end
  end
end
