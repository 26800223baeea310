/**
 * `Range` and `Accept-Encoding` request headers, as far as downloads need them.
 *
 * RFC 9110 section 14: one `bytes=first-last`, `bytes=first-` or `bytes=-suffix` range is served
 * (206); several ranges or a header we cannot parse are ignored and the whole file is sent, which
 * the RFC allows ("a server MAY ignore the Range header field"). A range that starts at or past
 * the end is unsatisfiable (416).
 */

export type RangeRequest =
  | { kind: 'whole' }
  | { kind: 'part'; start: number; end: number }
  | { kind: 'unsatisfiable' }

const SINGLE_RANGE = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/i

export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return { kind: 'whole' }
  const match = SINGLE_RANGE.exec(header)
  if (!match) return { kind: 'whole' }
  const [, first = '', last = ''] = match
  if (first === '' && last === '') return { kind: 'whole' }
  if (first === '') {
    // A suffix: the last N bytes.
    const suffix = Number(last)
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' }
    return { kind: 'part', start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(first)
  const end = last === '' ? Number.MAX_SAFE_INTEGER : Number(last)
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) {
    return { kind: 'whole' }
  }
  if (start >= size) return { kind: 'unsatisfiable' }
  return { kind: 'part', start, end: Math.min(end, size - 1) }
}

/** True when the client takes gzip (`gzip`, `x-gzip` or `*` with a non-zero weight). */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false
  for (const item of header.toLowerCase().split(',')) {
    const [coding = '', ...params] = item.split(';').map((part) => part.trim())
    if (coding !== 'gzip' && coding !== 'x-gzip' && coding !== '*') continue
    const q = params.find((p) => p.startsWith('q='))
    if (q === undefined || Number(q.slice(2)) > 0) return true
  }
  return false
}
