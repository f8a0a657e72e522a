/** Flow control: rate limits, per-key limits, unique jobs and debouncing. See README "Flow control". */
export { FlowGate, type FlowHooks, type FlowGateOptions } from './gate.js'
export {
  listRateLimits,
  readOverrides,
  setRateLimit,
  RATE_LIMITS_SPACE,
  type LimitTarget,
} from './overrides.js'
export { formatRate, parseRate, type Rate } from '../core/rate.js'
