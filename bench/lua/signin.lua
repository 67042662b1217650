-- Full password sign-in: GET the sign-in page (session cookie + CSRF token), then POST the
-- form with the e-mail and password. A unit is a 302 answer to the POST (a failed sign-in
-- answers 401, a refused form 400); a sign-in page without its form or cookie is a failure.
function init(args)
  forms = {}
  units = 0
  failures = 0
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
  local set = headers["Set-Cookie"] or headers["set-cookie"] or ""
  if status == 200 then
    local token = string.match(body, 'name="csrf_token" type="hidden" value="([^"]+)"')
    local cookie = string.match(set, "(idp_ui=[^;]+)")
    if token and cookie then table.insert(forms, { token = token, cookie = cookie })
    else failures = failures + 1 end
  elseif status == 302 then
    units = units + 1
  end
end
