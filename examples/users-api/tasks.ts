/**
 * The celeriac app of the users-api example and its one task, `email.welcome`. The API imports
 * this module to send the task; the worker loads it with `celeriac worker -A`. Nothing here
 * runs at import time: the SMTP connection is made when the first mail is sent.
 */
import { createApp } from 'celeriac'
import { createTransport } from 'nodemailer'
import { config } from './config.js'

export const app = createApp({ name: 'users-api', broker: config.broker })

function createMailer() {
  // Short timeouts: a mail server that hangs should cost a retry, not minutes of a slot.
  return createTransport({
    url: config.smtpUrl,
    connectionTimeout: 5_000,
    greetingTimeout: 5_000,
    socketTimeout: 15_000,
  })
}

let transport: ReturnType<typeof createMailer> | null = null

function mailer(): ReturnType<typeof createMailer> {
  transport ??= createMailer()
  return transport
}

/**
 * Whether sending may work later: the server was unreachable or answered 4xx ("try again").
 * A 5xx answer (no such mailbox, message refused for good) will not change by retrying.
 */
export function isTransient(err: unknown): boolean {
  const code = (err as { responseCode?: unknown }).responseCode
  return typeof code !== 'number' || (code >= 400 && code < 500)
}

/**
 * Sends the welcome mail. Retried up to 8 times, 1s, 2s, 4s, … up to 30s apart (with jitter),
 * while the mail server is down or refuses for now.
 */
export const sendWelcome = app.task(
  'email.welcome',
  async (ctx, to: string, name: string) => {
    if (ctx.retries > 0) ctx.log.info({ to, retry: ctx.retries }, 'sending the welcome mail again')
    const info = await mailer().sendMail({
      from: config.mailFrom,
      to,
      subject: `Welcome, ${name}!`,
      text: `Hi ${name},\n\nyour account is ready. This mail was sent by a celeriac worker.\n`,
    })
    return {
      messageId: info.messageId,
      accepted: info.accepted,
    }
  },
  { retries: { max: 8, delay: '1s', maxDelay: '30s', on: isTransient }, timeLimit: '60s' },
)
