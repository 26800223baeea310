/**
 * API keys: which key a request presents, and whether it is one of ours. Keys are compared in
 * constant time on their SHA-256 digests (`timingSafeEqual` needs equal lengths; digests always
 * are), and every configured key is compared, so the timing says nothing about which matched.
 * A key's id (a digest prefix, never the key) names the owner of the jobs it submits.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'

interface KnownKey {
  id: string
  digest: Buffer
}

export class ApiKeys {
  private readonly keys: readonly KnownKey[]

  constructor(keys: readonly string[]) {
    this.keys = keys.map((key) => ({ id: keyId(key), digest: digest(key) }))
  }

  get enabled(): boolean {
    return this.keys.length > 0
  }

  /** The id of the key presented, or undefined when it is not one of ours. */
  identify(presented: string): string | undefined {
    const candidate = digest(presented)
    let found: string | undefined
    for (const key of this.keys) {
      if (timingSafeEqual(candidate, key.digest)) found ??= key.id
    }
    return found
  }
}

/** `Authorization: Bearer KEY`, else `X-API-Key: KEY`; undefined when neither is there. */
export function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const authorization = headers.authorization
  if (authorization) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization)
    if (match) return match[1]
  }
  const header = headers['x-api-key']
  const value = Array.isArray(header) ? header[0] : header
  return value?.trim() || undefined
}

export function keyId(key: string): string {
  return `key_${createHash('sha256').update(key).digest('hex').slice(0, 16)}`
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest()
}
