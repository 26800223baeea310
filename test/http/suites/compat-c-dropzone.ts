/**
 * Set C's Dropzone chunked uploads: chunks out of order, concurrent and retried still make
 * exactly one job with the exact output; bad chunks are refused with clear codes.
 */
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { engineOutput, multipart, songPlays, waitForJob } from '../support/service.js'
import type { Deployment, Target } from '../support/target.js'

export const CHUNK = 64 * 1024

/** The generated file the chunk tests upload: about 900 KB, 14 chunks. */
export function dropzoneData(): Buffer {
  return songPlays(30_000, 11)
}

export function chunkForm(uuid: string, index: number, total: number, content: Buffer) {
  const offset = index * CHUNK
  const piece = content.subarray(offset, offset + CHUNK)
  return multipart(
    {
      dzuuid: uuid,
      dzchunkindex: String(index),
      dztotalfilesize: String(total),
      dzchunksize: String(CHUNK),
      dztotalchunkcount: String(Math.ceil(total / CHUNK)),
      dzchunkbyteoffset: String(offset),
      dzfilename: 'weekly plays.csv',
    },
    [{ field: 'file', name: 'blob', content: piece, type: 'application/octet-stream' }],
  )
}

export function compatDropzoneSuite(deployment: Deployment): void {
  let data: Buffer
  let totals: Buffer

  function sendChunk(t: Target, uuid: string, index: number, total = data.length, content = data) {
    return t.inject({
      method: 'POST',
      url: '/api/upload_file',
      ...chunkForm(uuid, index, total, content),
    })
  }

  describe(`Dropzone chunks (${deployment.name})`, () => {
    let t: Target
    beforeAll(async () => {
      data = dropzoneData()
      totals = await engineOutput(data)
      t = await deployment.start()
    })
    afterAll(() => t?.close())

    it('out of order, concurrent and retried: one job, exact output', async () => {
      const uuid = randomUUID()
      const count = Math.ceil(data.length / CHUNK)
      const order = [...Array(count).keys()].reverse()
      // The first half one by one (with a retry), the rest all at once.
      const answers = []
      for (const index of order.slice(0, count / 2)) {
        answers.push(await sendChunk(t, uuid, index))
        if (index === order[1]) answers.push(await sendChunk(t, uuid, index))
      }
      answers.push(
        ...(await Promise.all(order.slice(count / 2).map((index) => sendChunk(t, uuid, index)))),
      )
      for (const answer of answers) expect(answer.statusCode, answer.body).toBe(200)
      const bodies = answers.map((a) => a.json())
      const finals = bodies.filter((b) => b.job_id !== undefined)
      expect(finals.length).toBeGreaterThanOrEqual(1)
      expect(new Set(finals.map((b) => b.job_id)).size).toBe(1)
      expect(finals[0]).toEqual({
        message: 'File uploaded successfully',
        job_id: expect.any(String),
      })
      for (const body of bodies.filter((b) => b.job_id === undefined)) {
        expect(body).toEqual({ message: 'Chunk file uploaded successfully' })
      }
      const id = finals[0].job_id
      const view = await waitForJob(t.inject, id)
      expect(view).toMatchObject({ status: 'succeeded', file_name: 'weekly plays.csv' })
      const result = await t.inject({ method: 'GET', url: `/api/download_file/${id}` })
      expect(result.rawPayload.equals(totals)).toBe(true)
      // A chunk retried after the end answers with the same job.
      const late = await sendChunk(t, uuid, 3)
      expect(late.json()).toEqual({ message: 'File uploaded successfully', job_id: id })
      expect((await t.inject({ method: 'GET', url: '/jobs' })).json().jobs).toHaveLength(1)
    })

    it('refuses the first chunk of a file without the required columns with 422', async () => {
      const bad = Buffer.concat([Buffer.from('Title,When,Count\n'), data.subarray(26)])
      const response = await sendChunk(t, randomUUID(), 0, bad.length, bad)
      expect(response.statusCode).toBe(422)
      expect(response.json().code).toBe('CSV_MISSING_COLUMNS')
    })

    it('refuses bad chunk fields with 400 CHUNK_INVALID and a size over the limit with 413', async () => {
      const noOffset = multipart({ dzuuid: randomUUID(), dztotalfilesize: '10' }, [
        { field: 'file', name: 'blob', content: 'abc' },
      ])
      const missing = await t.inject({ method: 'POST', url: '/api/upload_file', ...noOffset })
      expect(missing.statusCode).toBe(400)
      expect(missing.json()).toMatchObject({ code: 'CHUNK_INVALID' })
      expect(missing.json().detail).toContain('dzchunkbyteoffset')
      const badUuid = multipart(
        { dzuuid: '../../x', dztotalfilesize: '10', dzchunkbyteoffset: '0' },
        [{ field: 'file', name: 'blob', content: 'abc' }],
      )
      expect(
        (await t.inject({ method: 'POST', url: '/api/upload_file', ...badUuid })).json().code,
      ).toBe('CHUNK_INVALID')
      const tooBig = multipart(
        { dzuuid: randomUUID(), dztotalfilesize: String(1e15), dzchunkbyteoffset: '0' },
        [{ field: 'file', name: 'blob', content: 'abc' }],
      )
      const big = await t.inject({ method: 'POST', url: '/api/upload_file', ...tooBig })
      expect(big.statusCode).toBe(413)
      // A chunk longer than what is left of the file.
      const overflow = multipart(
        { dzuuid: randomUUID(), dztotalfilesize: '5', dzchunkbyteoffset: '3' },
        [{ field: 'file', name: 'blob', content: 'abcdef' }],
      )
      expect(
        (await t.inject({ method: 'POST', url: '/api/upload_file', ...overflow })).statusCode,
      ).toBe(413)
    })
  })
}
