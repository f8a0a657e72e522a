import { add, app, resize } from './tasks.js'

const sum = await add.delay(2, 3) // typed: add.delay('2', 3) does not compile
console.log('sent', sum.id)
console.log('2 + 3 =', await sum.get({ timeout: '30s' }))

const image = await resize.applyAsync(['https://example.com/cat.png', 640], { countdown: '1s', priority: 5 })
const info = await image.get({ timeout: '30s' }) // { url: string; width: number; bytes: number }
console.log('resized to', info.width, 'after', (await image.record())?.retries, 'retry')

await app.close()
