-- SSO hop: an authorization request with a live SSO session cookie (302 with a code),
-- then the code exchanged at the token endpoint. Both requests count; hops = requests / 2.
function init(args)
  codes = {}
  authorize = os.getenv("BENCH_AUTHORIZE")
  cookie = os.getenv("BENCH_COOKIE")
  token_path = os.getenv("BENCH_PATH")
  basic = os.getenv("BENCH_BASIC")
  redirect = os.getenv("BENCH_REDIRECT")
  verifier = os.getenv("BENCH_VERIFIER")
end

function request()
  local code = table.remove(codes)
  if code then
    return wrk.format("POST", token_path, {
      ["Authorization"] = basic,
      ["Content-Type"] = "application/x-www-form-urlencoded",
    }, "grant_type=authorization_code&code=" .. code .. "&redirect_uri=" .. redirect ..
       "&code_verifier=" .. verifier)
  end
  return wrk.format("GET", authorize, { ["Cookie"] = cookie })
end

function response(status, headers, body)
  if status == 302 or status == 303 then
    local location = headers["Location"] or headers["location"] or ""
    local code = string.match(location, "[?&]code=([^&]+)")
    if code then table.insert(codes, code) end
  end
end
