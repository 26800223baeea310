/**
 * Upload limits with clear answers: too large (413, announced or found while streaming, raw or
 * multipart, on a real socket); a refused upload, or one whose client went away, leaves nothing
 * in storage and no job.
 */
import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { multipart, PLAYS_CSV, songPlays, submitCsv } from '../support/service.js'
import type { Deployment, Target } from '../support/target.js'

/** What is in storage now and was not in `before`. */
async function newFiles(t: Target, before: readonly string[]): Promise<string[]> {
  return (await t.storedFiles()).filter((key) => !before.includes(key))
}

/** Generated song plays of more than `bytes` bytes. */
function playsOver(bytes: number): Buffer {
  return songPlays(Math.ceil(bytes / 25) + 1000)
}

/** A raw upload over a real socket, written in pieces, without Content-Length (chunked). */
function streamUpload(
  t: Target,
  body: Buffer,
  announced?: number,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...t.headers, 'content-type': 'text/csv' }
    if (announced === undefined) headers['transfer-encoding'] = 'chunked'
    else headers['content-length'] = String(announced)
    let answered = false
    const req = httpRequest(`${t.url}/jobs`, { method: 'POST', headers }, (res) => {
      answered = true
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        text += chunk
      })
      res.on('end', () => {
        req.destroy()
        resolve({ status: res.statusCode ?? 0, body: text })
      })
    })
    // The server may close while we still write: the answer is what counts.
    req.on('error', (error) => {
      if (!answered) reject(error)
    })
    let at = 0
    const writeMore = () => {
      while (at < body.length && !answered) {
        const piece = body.subarray(at, at + 16 * 1024)
        at += piece.length
        if (!req.write(piece)) {
          req.once('drain', writeMore)
          return
        }
      }
      // An announced length longer than the body: the request stays open for the answer.
      if (announced === undefined) req.end()
    }
    writeMore()
  })
}

export function jobsLimitsSuite(deployment: Deployment): void {
  describe(`upload size limit (${deployment.name})`, () => {
    let t: Target
    let max: number
    let before: string[]
    beforeAll(async () => {
      t = await deployment.start({ smallUploadLimit: true })
      max = t.maxUploadBytes
      before = await t.storedFiles()
    })
    afterAll(() => t?.close())

    it('refuses an announced size over the limit with 413 before reading', async () => {
      // Only the first bytes are sent: the answer comes without the rest.
      const answer = await streamUpload(t, Buffer.from(PLAYS_CSV), max + 1)
      expect(answer.status).toBe(413)
      const problem = JSON.parse(answer.body)
      expect(problem).toMatchObject({ code: 'UPLOAD_TOO_LARGE', status: 413 })
      expect(problem.detail).toContain(String(max))
    })

    it('refuses a streamed body that passes the limit with 413 (real socket)', async () => {
      const answer = await streamUpload(t, playsOver(max))
      expect(answer.status).toBe(413)
      expect(JSON.parse(answer.body).code).toBe('UPLOAD_TOO_LARGE')
      const under = await streamUpload(t, Buffer.from(PLAYS_CSV))
      expect(under.status).toBe(202)
    })

    it('refuses a multipart file over the limit with 413', async () => {
      const form = multipart({}, [{ field: 'file', name: 'big.csv', content: playsOver(max) }])
      // Without Content-Length, so only the stream can tell.
      const response = await fetch(`${t.url}/jobs`, {
        method: 'POST',
        headers: { ...t.headers, ...form.headers },
        body: new Blob([form.payload]).stream(),
        duplex: 'half',
      } as RequestInit)
      expect(response.status).toBe(413)
      expect(((await response.json()) as { code: string }).code).toBe('UPLOAD_TOO_LARGE')
    })

    it('leaves no stored upload and no job behind', async () => {
      const jobs = (await t.inject({ method: 'GET', url: '/jobs' })).json().jobs
      // Only the one small upload that was accepted.
      expect(jobs).toHaveLength(1)
      const uploads = (await newFiles(t, before)).filter((key) => key.startsWith('uploads/'))
      expect(uploads.length).toBeLessThanOrEqual(1)
    })
  })

  describe(`a client that goes away mid-upload (${deployment.name})`, () => {
    let t: Target
    beforeAll(async () => {
      t = await deployment.start()
    })
    afterAll(() => t?.close())

    it('leaves no file and no job, and the server keeps serving', async () => {
      const before = await t.storedFiles()
      const { hostname, port } = new URL(t.url)
      const socket = connect(Number(port), hostname)
      await new Promise((done) => socket.once('connect', done))
      const head = PLAYS_CSV.slice(0, 40)
      const keys = Object.entries(t.headers).map(([name, value]) => `${name}: ${value}\r\n`)
      socket.write(
        `POST /jobs HTTP/1.1\r\nHost: x\r\n${keys.join('')}Content-Type: text/csv\r\nContent-Length: 100000\r\n\r\n${head}`,
      )
      await new Promise((done) => setTimeout(done, 200))
      socket.destroy()
      await new Promise((done) => setTimeout(done, 300))
      const files = await newFiles(t, before)
      expect(
        files.filter((name) => name.includes('.partial') || name.startsWith('uploads/job_')),
      ).toEqual([])
      expect((await t.inject({ method: 'GET', url: '/jobs' })).json().jobs).toEqual([])
      expect((await submitCsv(t.inject, PLAYS_CSV)).status).toBe('queued')
    })
  })
}
