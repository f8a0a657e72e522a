/** Run claims for brokers without idempotent publish: one run per caller-chosen id (claims.ts). */
export { LONGEST_CLAIM_MS, RunClaims, type ClaimLog } from './claims.js'
