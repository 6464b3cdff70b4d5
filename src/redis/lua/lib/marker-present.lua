--[[
  marker_present(marker): whether a generation's marker exists (1 or 0), read once per script per marker
  (several items share a generation).
]]
local seen = {}
local function marker_present(marker)
  local present = seen[marker]
  if present == nil then
    present = redis.call('EXISTS', marker)
    seen[marker] = present
  end
  return present
end
