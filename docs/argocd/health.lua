-- Argo CD health of natop's kinds (natop.dev/*), from their kstatus
-- conditions: Stalled is Degraded, Ready is Healthy, anything else Progressing;
-- a paused object (natop.dev/paused) is Suspended, and an observed one that
-- differs from its spec (condition Drifted) stays Healthy and says so.
local hs = {}

local function condition(status, kind)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function describe(c)
  local text = c.reason or ""
  if c.message ~= nil and c.message ~= "" then
    text = text .. ": " .. c.message
  end
  return text
end

local metadata = obj.metadata or {}
local status = obj.status

local ready = condition(status, "Ready")
if ready ~= nil and ready.reason == "Paused" then
  hs.status = "Suspended"
  hs.message = describe(ready)
  return hs
end

if metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "being deleted: natop is removing what it made in the cloud"
  return hs
end

local generation = metadata.generation
if status == nil or status.observedGeneration == nil
    or (generation ~= nil and status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "waiting for natop to observe generation " .. tostring(generation or "?")
  return hs
end

local stalled = condition(status, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
  local drifted = condition(status, "Drifted")
  if drifted ~= nil and drifted.status == "True" then
    hs.message = hs.message .. " (drifted: " .. (drifted.message or "") .. ")"
  end
  return hs
end

local reconciling = condition(status, "Reconciling")
hs.status = "Progressing"
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = describe(reconciling)
elseif ready ~= nil then
  hs.message = describe(ready)
else
  hs.message = "waiting for natop to report Ready"
end
return hs
