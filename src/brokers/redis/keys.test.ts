/** URL forms of the Redis backend: one server, Cluster seeds, Sentinel; passwords never shown. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseRedisUrl } from './keys.js'

describe('redis URLs', () => {
  it('keeps redis:// and rediss:// as they were, minus prefix', () => {
    const t = parseRedisUrl('redis://:pw@localhost:6380/2?prefix=app')
    assert.equal(t.prefix, 'app')
    assert.deepEqual(t.topology, { kind: 'server', clientUrl: 'redis://:pw@localhost:6380/2' })
    assert.equal(t.safeUrl, 'redis://:***@localhost:6380/2?prefix=app')
  })

  it('reads Cluster seed nodes, credentials and TLS', () => {
    const t = parseRedisUrl('rediss+cluster://u:p%40ss@h1:7000,[::1]:7001,h3/?prefix=x')
    assert.equal(t.prefix, 'x')
    assert.deepEqual(t.topology, {
      kind: 'cluster',
      nodes: [
        { host: 'h1', port: 7000 },
        { host: '::1', port: 7001 },
        { host: 'h3', port: 6379 },
      ],
      auth: { tls: true, username: 'u', password: 'p@ss' },
    })
    assert.equal(t.safeUrl, 'rediss+cluster://u:***@h1:7000,[::1]:7001,h3/?prefix=x')
    assert.equal(parseRedisUrl('redis+cluster://h1:7000').prefix, 'celeriac')
  })

  it('reads Sentinel addresses, the primary name and the database', () => {
    const t = parseRedisUrl('redis+sentinel://:secret@s1:26379,s2/mymaster/3')
    assert.deepEqual(t.topology, {
      kind: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
      ],
      name: 'mymaster',
      db: 3,
      auth: { tls: false, password: 'secret' },
    })
    assert.equal(t.safeUrl, 'redis+sentinel://:***@s1:26379,s2/mymaster/3')
    const d = parseRedisUrl('redis+sentinel://s1/mymaster').topology
    assert.equal(d.kind === 'sentinel' && d.db, 0)
  })

  it('rejects malformed URLs without showing the password', () => {
    for (const [url, reason] of [
      ['redis+sentinel://:secret@s1,s2', /primary name/],
      ['redis+cluster://:secret@h1,h2/5', /database 0/],
      ['redis+cluster://:secret@h1,h2/?prefix={x}', /braces/],
      ['redis+cluster://:secret@h1,h2/?db=1', /unknown parameter/],
      ['redis+cluster://:secret@/', /host/],
      ['redis+cluster://:secret@h1:x,h2', /host\[:port\]/],
      ['http://:secret@h1', /not a redis/],
    ] as const) {
      assert.throws(
        () => parseRedisUrl(url),
        (e: Error) => reason.test(e.message) && !e.message.includes('secret'),
        url,
      )
    }
  })
})
