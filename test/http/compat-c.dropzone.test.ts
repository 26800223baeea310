/**
 * Set C's Dropzone chunked uploads against the embedded service (suites/compat-c-dropzone.ts),
 * and staged chunks surviving a restart of the service.
 */
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { CHUNK, chunkForm, compatDropzoneSuite, dropzoneData } from './suites/compat-c-dropzone.js'
import { engineOutput, startService, type TestService, waitForJob } from './support/service.js'
import { embedded } from './support/target.js'

compatDropzoneSuite(embedded)

let data: Buffer
let totals: Buffer

beforeAll(async () => {
  data = dropzoneData()
  totals = await engineOutput(data)
})

function sendChunk(t: TestService, uuid: string, index: number) {
  return t.inject({
    method: 'POST',
    url: '/api/upload_file',
    ...chunkForm(uuid, index, data.length, data),
  })
}

describe('Dropzone chunks across a restart', () => {
  it('keeps the staged chunks: the upload completes after the restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tally-dropzone-'))
    try {
      const uuid = randomUUID()
      const count = Math.ceil(data.length / CHUNK)
      const first = await startService({ dir })
      for (let i = 0; i < count - 2; i++) {
        expect((await sendChunk(first, uuid, i)).json().message).toBe(
          'Chunk file uploaded successfully',
        )
      }
      await first.close()
      const second = await startService({ dir })
      try {
        expect((await sendChunk(second, uuid, count - 1)).json().job_id).toBeUndefined()
        const last = (await sendChunk(second, uuid, count - 2)).json()
        expect(last.message).toBe('File uploaded successfully')
        await waitForJob(second.inject, last.job_id)
        const result = await second.inject({
          method: 'GET',
          url: `/api/download_file/${last.job_id}`,
        })
        expect(result.rawPayload.equals(totals)).toBe(true)
      } finally {
        await second.close()
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
