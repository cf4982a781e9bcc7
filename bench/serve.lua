-- bench:serve's wrk script: every request a different person.
-- wrk -s bench/serve.lua <url> -- <mode> <dir> <postOffsets>
--   mode         get | oneclick | mix
--   dir          holds get.<thread>.txt (one personal page path per line) and
--                post.<thread>.txt (`form path<TAB>form body<TAB>one-click path`)
--   postOffsets  comma-separated byte offsets, one per thread, where this run
--                starts reading its post file (people already used by earlier
--                runs are skipped: a one-click for someone already opted out
--                records nothing, which would flatter the server)
-- Every wrk thread has its own Lua state: setup() (main state) numbers the
-- threads, and each thread reads its own files, one line per request, so the
-- threads never share a person and init() costs nothing while other threads run.
-- mix: of every 50 requests, 1 one-click POST, 4 form POSTs, 45 personal GETs (2 %, 8 %, 90 %).

local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

local mode, dir, getf, postf
local formHeaders = { ["Content-Type"] = "application/x-www-form-urlencoded" }
local ONE_CLICK_BODY = "List-Unsubscribe=One-Click"

-- Globals read back by done() through thread:get().
requests = 0
posts = 0
postPos = 0
getWraps = 0
postWraps = 0

local function offsets(csv)
  local t = {}
  for v in string.gmatch(csv or "", "[^,]+") do table.insert(t, tonumber(v)) end
  return t
end

function init(args)
  mode = args[1]
  dir = args[2]
  getf = assert(io.open(dir .. "/get." .. id .. ".txt", "r"))
  if mode ~= "get" then
    postf = assert(io.open(dir .. "/post." .. id .. ".txt", "r"))
    postPos = offsets(args[3])[id + 1] or 0
    postf:seek("set", postPos)
  end
end

local function nextGet()
  local line = getf:read("*l")
  if line == nil then
    getWraps = getWraps + 1
    getf:seek("set", 0)
    line = getf:read("*l")
  end
  return line
end

local function nextPost()
  local line = postf:read("*l")
  if line == nil then
    postWraps = postWraps + 1
    postf:seek("set", 0)
    postPos = 0
    line = postf:read("*l")
  end
  postPos = postPos + #line + 1
  posts = posts + 1
  return string.match(line, "^([^\t]*)\t([^\t]*)\t([^\t]*)$")
end

function request()
  requests = requests + 1
  if mode == "get" then
    return wrk.format("GET", nextGet())
  end
  local k = requests % 50
  if mode == "oneclick" or k == 0 then
    local _, _, oneClick = nextPost()
    return wrk.format("POST", oneClick, formHeaders, ONE_CLICK_BODY)
  end
  if k <= 4 then
    local path, body = nextPost()
    return wrk.format("POST", path, formHeaders, body)
  end
  return wrk.format("GET", nextGet())
end

function done(summary, latency, _)
  local parts = {}
  for _, t in ipairs(threads) do
    table.insert(parts, string.format('{"id":%d,"requests":%d,"posts":%d,"postPos":%d,"getWraps":%d,"postWraps":%d}',
      t:get("id"), t:get("requests"), t:get("posts"), t:get("postPos"), t:get("getWraps"), t:get("postWraps")))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"completed":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50Us":%d,"p99Us":%d,"threads":[%s]}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), table.concat(parts, ",")))
end
