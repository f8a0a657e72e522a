// A tasks module as a user lays it out, importing the package by name.
import { createApp } from 'celeriac'

export const app = createApp()

export const add = app.task('math.add', (_ctx, a: number, b: number) => a + b)

export const welcome = app.task('email.welcome', async (ctx, to: string, name: string) => {
  ctx.log.info({ to }, 'sending')
  return { sent: true, to, name }
})
