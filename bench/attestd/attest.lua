-- wrk script for sgx-attestd: POSTs AttestSgxEnclave requests with distinct quotes, round-robin
-- from a file of JSON bodies (one per line), optionally paced.
--   BODIES  the file of bodies (required)
--   DELAY_MS  per-connection pause between requests (0 = closed loop)
--   CONNECTIONS  wrk's -c (default 64), for spreading the first requests of a paced run
local bodies = {}
local next_index = 1
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")

function init(args)
  for line in io.lines(os.getenv("BODIES")) do
    bodies[#bodies + 1] = line
  end
  -- Each thread starts elsewhere in the list so threads do not send the same quotes together.
  next_index = (math.random(#bodies) - 1) + 1
end

function request()
  local body = bodies[next_index]
  next_index = next_index % #bodies + 1
  return wrk.format("POST", "/attest/SgxEnclave?api-version=2022-08-01",
                    {["Content-Type"] = "application/json"}, body)
end

-- Paced runs: the first request of each connection waits a random part of one period, so the
-- connections spread over the period. Without it all of them fire together at t=0 and again one
-- period later, and the p99 measured the queue of that synchronized burst of 64 requests (64
-- signatures long), not the service at the paced rate.
local connections = tonumber(os.getenv("CONNECTIONS") or "64")
local first_requests = 0
function delay()
  if delay_ms > 0 and first_requests < connections then
    first_requests = first_requests + 1
    return math.random(0, delay_ms)
  end
  return delay_ms
end

local non_200 = 0
function response(status, headers, body)
  if status ~= 200 then
    non_200 = non_200 + 1
    if non_200 <= 3 then
      io.stderr:write("non-200 answer " .. status .. ": " .. body:sub(1, 200) .. "\n")
    end
  end
end
