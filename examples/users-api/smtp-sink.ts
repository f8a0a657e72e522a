/**
 * A local SMTP server that accepts every mail and stores it as an `.eml` file (open one in any
 * mail client, or read it as text). No authentication, no TLS: for development only.
 */
import { mkdirSync } from 'node:fs'
import { rename, writeFile } from 'node:fs/promises'
import { join, relative, resolve } from 'node:path'
import { SMTPServer } from 'smtp-server'
import { config } from './config.js'

function fileName(to: string): string {
  const safe = to.replace(/[^a-zA-Z0-9@._-]/g, '_').slice(0, 80)
  return `${new Date().toISOString().replace(/[:.]/g, '-')}-${Math.random().toString(36).slice(2, 8)}-${safe}.eml`
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer))
  return Buffer.concat(chunks)
}

export function createSink(mailDir: string): SMTPServer {
  mkdirSync(mailDir, { recursive: true })
  return new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    size: 10 * 1024 * 1024,
    onData(stream, session, callback) {
      const to = session.envelope.rcptTo.map((r) => r.address)
      collect(stream)
        .then(async (raw) => {
          const file = join(mailDir, fileName(to[0] ?? 'nobody'))
          // Written under another name first, so that a reader never sees half a mail.
          await writeFile(`${file}.part`, raw)
          await rename(`${file}.part`, file)
          const shown = file.startsWith(process.cwd()) ? relative(process.cwd(), file) : file
          console.log(`mail to ${to.join(', ')} → ${shown}`)
          callback()
        })
        .catch((err: Error) => callback(err))
    },
  })
}

async function main(): Promise<void> {
  const sink = createSink(config.mailDir)
  sink.on('error', (err) => console.error(`SMTP sink error: ${err.message}`))
  try {
    await new Promise<void>((res, rej) => {
      sink.server.once('error', rej)
      sink.listen(config.smtpPort, config.smtpHost, () => res())
    })
  } catch (err) {
    console.error(
      `SMTP sink cannot listen on ${config.smtpHost}:${config.smtpPort}: ${(err as Error).message}` +
        ' (another mail server there? choose another port with SMTP_PORT)',
    )
    process.exit(1)
  }
  console.log(
    `SMTP sink ready on smtp://${config.smtpHost}:${config.smtpPort}; mails go to ${config.mailDir}`,
  )
  const stop = (signal: NodeJS.Signals) => {
    console.log(`${signal}: SMTP sink closing`)
    sink.close(() => process.exit(0))
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}

if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) await main()
