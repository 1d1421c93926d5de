-- wrk script: POST 1 KiB object creates, each with different bytes (the rules refuse a second
-- live object with the same hash). The "object" field is 1368 base64 characters (1026 bytes):
-- a random prefix per wrk thread, then a per-request counter written in base64 digits.
-- Used by bench/bench.py; the API key and dataset come from the environment.
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local threads = {}
local counter = 0
local prefix = ""
local key = os.getenv("GONK_API_KEY") or ""
local path = os.getenv("WRK_PATH") or "/datasets/wrk/objects"

function setup(thread)
  thread:set("thread_number", #threads + 1)
  table.insert(threads, thread)
end

local function digits(n, width)
  local out = {}
  for i = width, 1, -1 do
    local d = n % 64
    out[i] = alphabet:sub(d + 1, d + 1)
    n = math.floor(n / 64)
  end
  return table.concat(out)
end

function init(args)
  math.randomseed(os.time() * 1000 + (thread_number or 0))
  local chars = {}
  for i = 1, 1356 do
    local d = math.random(0, 63)
    chars[i] = alphabet:sub(d + 1, d + 1)
  end
  prefix = table.concat(chars) .. digits(thread_number or 0, 4)
end

function request()
  counter = counter + 1
  local body = '{"name":"wrk-' .. counter .. '.bin","mimetype":"application/octet-stream",'
    .. '"object":"' .. prefix .. digits(counter, 8) .. '"}'
  return wrk.format("POST", path,
    {["Content-Type"] = "application/json", ["x-api-key"] = key}, body)
end
