/**
 * Array parameters written as PostgreSQL array literals by hand, for the publish batch: pg turns
 * a JavaScript array into the same text, but escapes each element with two regular-expression
 * replacements, which was a fifth of a bulk producer's CPU (1,000 bodies a batch).
 */

/** A control character, or a surrogate that is not half of a pair (`u` flag: pairs are one code point). */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const NOT_JSON_SAFE = /[\u0000-\u001f]|\p{Cs}/u

/**
 * `text[]` literal of `values`. JSON.stringify writes each string quoted, with `"` and `\`
 * escaped by a backslash, as the array syntax wants; only control characters and lone surrogates
 * come out as JSON escapes (`\n`, `\u0001`, `\ud800`) that the array syntax would read otherwise.
 * An array holding one of those is left to pg (the array itself is returned).
 */
export function textArray(values: readonly string[]): string | readonly string[] {
  for (let i = 0; i < values.length; i++) if (NOT_JSON_SAFE.test(values[i]!)) return values
  const json = JSON.stringify(values)
  return `{${json.slice(1, -1)}}`
}

/** `integer[]` / `bigint[]` literal; null (or undefined) elements are NULL. */
export function numberArray(values: readonly (number | null | undefined)[]): string {
  let out = '{'
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    out += (i ? ',' : '') + (v === null || v === undefined ? 'NULL' : String(v))
  }
  return out + '}'
}
