/**
 * Field value parsers for the hot loop: they read bytes in place and return numbers, never
 * strings. Negative results are error markers.
 */

export const BAD_VALUE = -1
/** The integer has more digits than a double holds exactly; take the BigInt path. */
export const NEEDS_BIGINT = -2

const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
}

/**
 * A real calendar date `YYYY-MM-DD` (proleptic Gregorian) -> `year * 512 + month * 32 + day`,
 * an integer whose order is the order of the date strings; BAD_VALUE otherwise.
 */
export function parseDate(buf: Uint8Array, start: number, end: number): number {
  if (end - start !== 10 || buf[start + 4] !== 0x2d || buf[start + 7] !== 0x2d) return BAD_VALUE
  const y0 = buf[start]! - 48
  const y1 = buf[start + 1]! - 48
  const y2 = buf[start + 2]! - 48
  const y3 = buf[start + 3]! - 48
  const m0 = buf[start + 5]! - 48
  const m1 = buf[start + 6]! - 48
  const d0 = buf[start + 8]! - 48
  const d1 = buf[start + 9]! - 48
  // Unsigned compare: a byte that is not a digit becomes a number above 9.
  if (
    y0 >>> 0 > 9 ||
    y1 >>> 0 > 9 ||
    y2 >>> 0 > 9 ||
    y3 >>> 0 > 9 ||
    m0 >>> 0 > 9 ||
    m1 >>> 0 > 9 ||
    d0 >>> 0 > 9 ||
    d1 >>> 0 > 9
  ) {
    return BAD_VALUE
  }
  const year = y0 * 1000 + y1 * 100 + y2 * 10 + y3
  const month = m0 * 10 + m1
  const day = d0 * 10 + d1
  if (month < 1 || month > 12 || day < 1) return BAD_VALUE
  const maxDay = month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month]!
  if (day > maxDay) return BAD_VALUE
  return year * 512 + month * 32 + day
}

export function formatDate(code: number): string {
  const year = Math.floor(code / 512)
  const month = (code >> 5) & 15
  const day = code & 31
  return `${String(year).padStart(4, '0')}-${month < 10 ? '0' : ''}${month}-${day < 10 ? '0' : ''}${day}`
}

/**
 * A non-negative decimal integer (digits only, leading zeros allowed) -> its value; BAD_VALUE
 * when empty or not all digits; NEEDS_BIGINT when it has more than 15 significant digits.
 */
export function parseCount(buf: Uint8Array, start: number, end: number): number {
  if (start >= end) return BAD_VALUE
  let value = 0
  let i = start
  for (; i < end; i++) {
    const d = buf[i]! - 48
    if (d >>> 0 > 9) return BAD_VALUE
    value = value * 10 + d
    if (value > 999_999_999_999_999) break
  }
  if (i === end) return value
  for (; i < end; i++) if ((buf[i]! - 48) >>> 0 > 9) return BAD_VALUE
  return NEEDS_BIGINT
}

export function parseBigCount(buf: Uint8Array, start: number, end: number): bigint {
  let text = ''
  for (let i = start; i < end; i++) text += String.fromCharCode(buf[i]!)
  return BigInt(text)
}
