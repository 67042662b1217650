-- client_credentials grant: BENCH_BASIC is "Basic <base64(id:secret)>", BENCH_PATH the token endpoint path.
local basic = os.getenv("BENCH_BASIC")
local path = os.getenv("BENCH_PATH")
local scope = os.getenv("BENCH_SCOPE") or ""
wrk.method = "POST"
wrk.path = path
wrk.headers["Authorization"] = basic
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=client_credentials" .. (scope ~= "" and ("&scope=" .. scope) or "")
