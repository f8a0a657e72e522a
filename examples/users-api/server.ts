/**
 * The users API (Fastify): `POST /users`, `GET /users/:id`, and `GET /tasks/:id` for the state of
 * the welcome mail. Run alone with `node --import tsx examples/users-api/server.ts`, or with the
 * worker and the SMTP sink through start.ts.
 */
import { appendFile, mkdir } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import Fastify, {
  LogController,
  type FastifyError,
  type FastifyInstance,
  type FastifyServerOptions,
} from 'fastify'
import { backgroundTasks, taskStatusRoutes } from 'celeriac/fastify'
import { z } from 'zod'
import { config } from './config.js'
import { DuplicateEmailError, openUsersDb, type UsersDb } from './db.js'
import { openPostgresUsersDb } from './db-postgres.js'
import { app, sendWelcome } from './tasks.js'

const required = (field: string) => ({
  error: (issue: { input: unknown }) =>
    issue.input === undefined ? `${field} is required` : `${field} must be a string`,
})

export const NewUser = z.object({
  email: z
    .string(required('email'))
    .trim()
    .toLowerCase()
    .pipe(z.email({ error: 'email must be an email address such as ada@example.com' }).max(254)),
  name: z
    .string(required('name'))
    .trim()
    .min(1, { error: 'name must not be empty' })
    .max(100, { error: 'name must be at most 100 characters' }),
})

/** The first problem of a body, naming its field: `{ error, field, message }`. */
function invalidBody(error: z.ZodError) {
  const issue = error.issues[0]!
  const field = issue.path.join('.')
  return field
    ? { error: 'invalid body', field, message: issue.message }
    : { error: 'invalid body', message: 'the body must be a JSON object: {"email": "...", "name": "..."}' }
}

export interface ServerOptions {
  readonly users: UsersDb
  readonly logger?: FastifyServerOptions['logger']
  /** Where audit lines are appended (default: config.auditLog). */
  readonly auditLog?: string
}

export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const { users } = opts
  const auditLog = opts.auditLog ?? config.auditLog
  // Fastify's two lines per request are replaced by one, in the onResponse hook below.
  const server = Fastify({
    logger: opts.logger ?? false,
    logController: new LogController({ disableRequestLogging: true }),
  })
  await server.register(backgroundTasks, { shutdownTimeout: '10s' })
  await server.register(taskStatusRoutes, { app })
  // Connected before the first request: a send inside our transaction needs the broker's tables,
  // and connecting needs the write lock that transaction would be holding.
  await app.broker()

  // Runs in this process after the response has been sent; not durable, unlike a task.
  async function audit(event: string, userId: number, email: string): Promise<void> {
    await mkdir(dirname(auditLog), { recursive: true })
    await appendFile(auditLog, JSON.stringify({ at: new Date().toISOString(), event, userId, email }) + '\n')
    server.log.info({ event, userId }, `audit: ${event} #${userId}`)
  }

  server.addHook('onResponse', (req, reply, done) => {
    const ms = reply.elapsedTime.toFixed(1)
    server.log.info(`${req.method} ${req.url} ${reply.statusCode} ${ms}ms`)
    done()
  })

  server.setErrorHandler((err: FastifyError, req, reply) => {
    const status = err.statusCode ?? 500
    if (status === 415)
      return reply.code(415).send({
        error: 'unsupported media type',
        message: 'send JSON with the header content-type: application/json',
      })
    if (status < 500)
      return reply.code(status).send({
        error: err.code?.startsWith('FST_ERR_CTP') ? 'invalid body' : 'bad request',
        message: err.message,
      })
    req.log.error({ err }, 'request failed')
    return reply.code(500).send({ error: 'internal error', message: err.message })
  })

  server.get('/', async () => ({
    name: 'users-api',
    routes: ['POST /users {"email","name"}', 'GET /users/:id', 'GET /tasks/:id'],
  }))

  server.post('/users', async (req, reply) => {
    const parsed = NewUser.safeParse(req.body)
    if (!parsed.success) return reply.code(400).send(invalidBody(parsed.error))
    let created
    try {
      // Inside the insert's transaction when the users share the broker's SQLite file or database.
      created = await users.create(parsed.data, (u, transaction) =>
        sendWelcome.applyAsync([u.email, u.name], transaction ? { transaction } : undefined),
      )
    } catch (err) {
      if (err instanceof DuplicateEmailError)
        return reply.code(409).send({ error: 'duplicate email', field: 'email', message: err.message })
      throw err
    }
    const { user, sent: welcome } = created
    req.background.add(audit, 'user.created', user.id, user.email)
    return reply
      .code(201)
      .header('location', `/users/${user.id}`)
      .send({ user, welcomeTask: welcome.id, taskUrl: `/tasks/${welcome.id}` })
  })

  server.get('/users/:id', async (req, reply) => {
    const { id } = req.params as { id: string }
    const user = /^\d{1,15}$/.test(id) ? await users.get(Number(id)) : undefined
    if (!user) return reply.code(404).send({ error: 'not found', message: `no user with id ${id}` })
    return user
  })

  return server
}

/** Pretty lines for people (the default on a terminal or under start.ts), JSON for machines. */
function logger(): FastifyServerOptions['logger'] {
  const format = process.env.CELERIAC_LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json')
  if (format !== 'pretty') return { level: 'info' }
  return {
    level: 'info',
    transport: {
      target: 'pino-pretty',
      options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,reqId', singleLine: true },
    },
  }
}

async function main(): Promise<void> {
  const pg = config.usersPostgres
  const users = pg
    ? await openPostgresUsersDb(pg.url, pg.schema)
    : openUsersDb(config.usersDb, { transactional: config.usersInBrokerFile })
  const server = await buildServer({ users, logger: logger() })
  try {
    await server.listen({ host: config.host, port: config.port })
  } catch (err) {
    console.error(
      `users-api cannot listen on ${config.host}:${config.port}: ${(err as Error).message} (choose another port with PORT)`,
    )
    process.exit(1)
  }
  const where = pg ? `PostgreSQL schema ${pg.schema}` : config.usersDb
  server.log.info(`users-api ready on http://${config.host}:${config.port} (users: ${where})`)

  let stopping = false
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    server.log.info(`${signal}: closing (waiting for background work)`)
    await server.close() // waits for in-request background tasks
    await app.close()
    users.close()
    process.exit(0)
  }
  process.on('SIGTERM', (s) => void stop(s))
  process.on('SIGINT', (s) => void stop(s))
}

if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) await main()
