/** Trace context in message headers: written, read back, and carried over the Celery wire. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import * as api from '@opentelemetry/api'
import { createApp } from '../core/app.js'
import { decodeMessage, encodeMessage } from '../core/message.js'
import { fromKombu, toKombu } from '../celery/protocol.js'
import { fromApi } from './api.js'
import { extractContext, injectHeaders } from './context.js'

const sc: api.SpanContext = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: 1,
  traceState: api.createTraceState('vendor=abc'),
}

describe('trace context headers', () => {
  it('writes traceparent and tracestate into a fresh headers object and reads them back', () => {
    const mine = { keep: 'me' }
    const headers = injectHeaders(sc, mine)
    assert.deepEqual(mine, { keep: 'me' })
    assert.equal(headers.traceparent, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')
    assert.equal(headers.tracestate, 'vendor=abc')
    const parent = api.trace.getSpanContext(extractContext(api, headers))!
    assert.equal(parent.traceId, sc.traceId)
    assert.equal(parent.spanId, sc.spanId)
    assert.equal(parent.traceFlags, 1)
    assert.equal(parent.isRemote, true)
    assert.equal(parent.traceState?.get('vendor'), 'abc')
  })

  it('ignores a missing or malformed traceparent (a root span follows)', () => {
    for (const bad of [undefined, 'junk', '00-00000000000000000000000000000000-b7ad6b7169203331-01'])
      assert.equal(
        api.trace.getSpanContext(extractContext(api, bad === undefined ? {} : { traceparent: bad })),
        undefined,
      )
  })

  it('carries the trace context over the Celery wire both ways', () => {
    const app = createApp({ broker: 'memory://' })
    const { message } = app.buildMessage('t', [1])
    message.headers = injectHeaders(sc, message.headers)
    const kombu = toKombu(encodeMessage(message))
    const wire = JSON.parse(kombu.payload) as { headers: Record<string, unknown> }
    assert.equal(wire.headers.traceparent, message.headers.traceparent)
    const back = decodeMessage(fromKombu(kombu.payload, 'default').body)
    assert.equal(back.headers.traceparent, message.headers.traceparent)
    assert.equal(back.headers.tracestate, 'vendor=abc')
  })

  it('reports no live provider until one is registered', () => {
    assert.equal(fromApi(api).live(), false)
  })
})
