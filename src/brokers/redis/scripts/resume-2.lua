--[[
  Resumes a paused queue and wakes a blocked consumer.

  KEYS[1]  paused flag   {p:q}:paused
  KEYS[2]  wake list     {p:q}:wake

  Returns 1 if the queue was paused, else 0.
]]
--- @include "wake"

local was = redis.call('DEL', KEYS[1])
wake(KEYS[2])
return was
