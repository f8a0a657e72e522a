/**
 * Task arguments of the benchmark matrix: `empty` (no argument), `1k` (one 1,024-character
 * string), `16k` and `64k` (one JSON object of about that many bytes: an order with line items,
 * strings, numbers, booleans and nesting, as a web application enqueues). Deterministic: the same
 * kind always encodes to the same bytes.
 */
export const PAYLOADS = ['empty', '1k', '16k', '64k'] as const
export type PayloadKind = (typeof PAYLOADS)[number]

export function isPayloadKind(s: string | undefined): s is PayloadKind {
  return (PAYLOADS as readonly string[]).includes(s ?? '')
}

/** The JSON size each kind aims at, bytes. */
export const PAYLOAD_BYTES: Record<PayloadKind, number> = {
  empty: 0,
  '1k': 1024,
  '16k': 16_384,
  '64k': 65_536,
}

/** An order of about `bytes` bytes of JSON. */
function order(bytes: number): Record<string, unknown> {
  const o = {
    id: 'ord_000000000001',
    customer: { id: 'cus_42', email: 'ada@example.com', name: 'Ada Lovelace', vip: true },
    currency: 'EUR',
    createdAt: '2026-01-01T12:00:00.000Z',
    lines: [] as Record<string, unknown>[],
  }
  for (let i = 0; JSON.stringify(o).length < bytes; i++) {
    o.lines.push({
      sku: `SKU-${String(i).padStart(6, '0')}`,
      title: `Item number ${i} with a plain description`,
      qty: (i % 7) + 1,
      price: Math.round(((i * 37) % 10_000) + 99) / 100,
      tags: ['a', 'b', i % 2 ? 'odd' : 'even'],
      gift: i % 5 === 0,
    })
  }
  return o
}

/** The argument list of one job of this kind. */
export function payloadArgs(kind: PayloadKind): unknown[] {
  switch (kind) {
    case 'empty':
      return []
    case '1k':
      return ['x'.repeat(1024)]
    case '16k':
      return [order(16_384)]
    case '64k':
      return [order(65_536)]
  }
}
