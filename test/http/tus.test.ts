/**
 * tus uploads against the embedded service (suites/tus.ts: resume after a cut, exact output,
 * unknown, unfinished and other keys' uploads refused), and expired unfinished uploads removed,
 * which needs an expiry only the in-process service takes.
 */
import { describe, expect, it } from 'vitest'
import { tusSuite } from './suites/tus.js'
import { startService } from './support/service.js'
import { embedded } from './support/target.js'
import { createUpload, TUS } from './support/tus-client.js'

tusSuite(embedded)

describe('tus expiration', () => {
  it('removes unfinished uploads once expired', async () => {
    const t = await startService({ listen: true, http: { uploadExpiryMs: 50 } })
    try {
      const id = await createUpload(t.url, 100)
      await new Promise((resolve) => setTimeout(resolve, 120))
      // The tus expiration extension: the server reports the expiry and then forgets the upload.
      const response = await fetch(`${t.url}/uploads/${id}`, { method: 'HEAD', headers: TUS })
      expect([404, 410]).toContain(response.status)
    } finally {
      await t.close()
    }
  })
})
