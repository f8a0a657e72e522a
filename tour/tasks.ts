import { createApp } from 'celeriac'

// No broker given: $CELERIAC_BROKER, else the embedded default sqlite://./celeriac.db
export const app = createApp()

export const add = app.task('math.add', (_ctx, a: number, b: number) => a + b)

export const resize = app.task(
  'images.resize',
  async (ctx, url: string, width: number) => {
    ctx.log.info({ url, width }, 'resizing')
    if (ctx.retries < 1) throw new Error('image server busy') // fails once, then retried
    return { url, width, bytes: width * 100 }
  },
  { retries: { max: 3, delay: '200ms' }, timeLimit: '30s' },
)
