-- Full password sign-in: GET the sign-in page (session cookie + CSRF token), then POST the
-- form with the e-mail and password; a 302 is a completed sign-in. Sign-ins = requests / 2.
function init(args)
  forms = {}
  email = os.getenv("BENCH_EMAIL")
  password = os.getenv("BENCH_PASSWORD")
end

local function urlencode(s)
  return (string.gsub(s, "[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function request()
  local form = table.remove(forms)
  if form then
    return wrk.format("POST", "/login", {
      ["Cookie"] = form.cookie,
      ["Content-Type"] = "application/x-www-form-urlencoded",
    }, "csrf_token=" .. urlencode(form.token) .. "&email=" .. urlencode(email) ..
       "&password=" .. urlencode(password) .. "&next=%2Faccount%2F")
  end
  return wrk.format("GET", "/login")
end

function response(status, headers, body)
  if status == 200 then
    local token = string.match(body, 'name="csrf_token" type="hidden" value="([^"]+)"')
    local set = headers["Set-Cookie"] or headers["set-cookie"] or ""
    local cookie = string.match(set, "(idp_ui=[^;]+)")
    if token and cookie then table.insert(forms, { token = token, cookie = cookie }) end
  end
end
