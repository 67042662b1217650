-- SSO hop: an authorization request with a live SSO session cookie (302 with a code),
-- then the code exchanged at the token endpoint (200). A unit is a 200 token answer; a
-- redirect without a code (e.g. to the sign-in page) is a failure.
function init(args)
  codes = {}
  units = 0
  failures = 0
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
  if status == 200 then
    if string.find(body, '"id_token"', 1, true) then units = units + 1
    else failures = failures + 1 end
  elseif status == 302 or status == 303 then
    local location = headers["Location"] or headers["location"] or ""
    local code = string.match(location, "[?&]code=([^&]+)")
    if code then table.insert(codes, code) else failures = failures + 1 end
  end
end
