export { startDashboard, type Dashboard, type DashboardOptions } from './server.js'
export { DashboardApi, type Reply } from './api.js'
export type { Credentials } from './auth.js'
