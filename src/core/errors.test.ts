import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { redactUrl } from './errors.js'

describe('redactUrl', () => {
  it('hides passwords in URLs of every form, including multi-host ones', () => {
    assert.equal(redactUrl('redis://:secret@localhost:6379/0'), 'redis://:***@localhost:6379/0')
    assert.equal(redactUrl('redis://user:secret@localhost:6379/0'), 'redis://user:***@localhost:6379/0')
    for (const url of [
      'redis+cluster://:pw@h1:7000,h2:7001/',
      'redis+cluster://u:pw@h1:7000,h2:7001/?prefix=x',
    ]) {
      assert.doesNotMatch(redactUrl(url), /pw/)
    }
    assert.equal(redactUrl('sqlite://./celeriac.db'), 'sqlite://./celeriac.db')
  })
})
