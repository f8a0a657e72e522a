// A producer as a user writes it: types flow from the task definitions with no casts.
import { add, app, welcome } from './tasks.js'

const sum: number = await (await add.delay(2, 3)).get({ timeout: '5s' })
const mail: { sent: boolean; to: string } = await (await welcome.delay('ada@example.com', 'Ada')).get()

// @ts-expect-error a string is not a number
await add.delay('2', 3)
// @ts-expect-error a missing argument
await welcome.delay('ada@example.com')

console.log(sum, mail.sent)
await app.close()
