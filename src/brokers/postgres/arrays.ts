/**
 * How the publish batch's columns travel: text columns joined into one string with a separator
 * that none of their values holds (split again by `string_to_array`), numbers as array literals.
 * pg would write each JavaScript array as an array literal, quoting and escaping every element
 * (two regular-expression replacements each), which was a fifth of a bulk producer's CPU, and
 * the server would parse the escapes back (`array_in`, 18 % of the publish statement's CPU).
 * Joined, neither side escapes anything: measured with 1,000 bodies of 120 characters, the server
 * took 0.23 µs an element to split them against 0.90 to parse the literal.
 */

/**
 * `columns` joined, each into one string, and the separator: U+001E (record separator) unless a
 * value holds it, else the first code point from U+0001 up that none holds (NUL cannot be in a
 * PostgreSQL text, surrogates are not characters on their own).
 */
export function joinColumns(columns: readonly (readonly string[])[]): { texts: string[]; separator: string } {
  let code = 0x1e
  const used = (c: string) => columns.some((col) => col.some((v) => v.includes(c)))
  while (used(String.fromCharCode(code))) {
    code = code === 0x1e ? 1 : code + 1
    if (code === 0x1e) code++
    if (code === 0xd800) code = 0xe000
  }
  const separator = String.fromCharCode(code)
  return { texts: columns.map((col) => col.join(separator)), separator }
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
