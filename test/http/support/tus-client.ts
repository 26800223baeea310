/**
 * A small tus 1.0 client over real HTTP for the tus tests (file and S3 stores): create an
 * upload, PATCH bytes, PATCH part of a body and drop the connection, read the offset, start a
 * job on an upload and wait for it.
 */
import { request as httpRequest } from 'node:http'
import { expect } from 'vitest'

export const TUS = { 'tus-resumable': '1.0.0' }

/** The fields of job views and problems these tests read. */
export interface Answer {
  job_id: string
  status: string
  code: string
}

export async function json(response: Response): Promise<Answer> {
  return (await response.json()) as Answer
}

export async function createUpload(
  url: string,
  size: number,
  headers: Record<string, string> = {},
  fileName = 'plays.csv',
): Promise<string> {
  const response = await fetch(`${url}/uploads`, {
    method: 'POST',
    headers: {
      ...TUS,
      ...headers,
      'upload-length': String(size),
      'upload-metadata': `filename ${Buffer.from(fileName).toString('base64')}`,
    },
  })
  expect(response.status, await response.clone().text()).toBe(201)
  const location = response.headers.get('location') ?? ''
  return location.split('/').pop() ?? ''
}

export async function patch(
  url: string,
  id: string,
  offset: number,
  body: Buffer,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${url}/uploads/${id}`, {
    method: 'PATCH',
    headers: {
      ...TUS,
      ...headers,
      'upload-offset': String(offset),
      'content-type': 'application/offset+octet-stream',
    },
    body,
  })
}

/** Sends `part` of a PATCH announcing `total` bytes, then drops the connection. */
export function patchCutOff(
  url: string,
  id: string,
  part: Buffer,
  total: number,
  headers: Record<string, string> = {},
): Promise<void> {
  return new Promise((resolve) => {
    const req = httpRequest(`${url}/uploads/${id}`, {
      method: 'PATCH',
      headers: {
        ...TUS,
        ...headers,
        'upload-offset': '0',
        'content-type': 'application/offset+octet-stream',
        'content-length': String(total),
      },
    })
    req.on('error', () => resolve())
    req.write(part, () => setTimeout(() => req.destroy(), 200))
    req.on('close', () => resolve())
  })
}

export async function headOffset(url: string, id: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${url}/uploads/${id}`, {
    method: 'HEAD',
    headers: { ...TUS, ...headers },
  })
  return { status: response.status, offset: Number(response.headers.get('upload-offset')) }
}

/**
 * After a cut-off PATCH: reads the offset the server kept and sends the rest from there, retrying
 * while the cut request still holds the upload's lock. Returns the offset it resumed from.
 */
export async function resume(
  url: string,
  id: string,
  body: Buffer,
  headers: Record<string, string> = {},
): Promise<number> {
  let offset = 0
  for (let tries = 0; tries < 100; tries++) {
    const head = await headOffset(url, id, headers)
    expect(head.status).toBe(200)
    offset = head.offset
    const rest = await patch(url, id, offset, body.subarray(offset), headers)
    if (rest.status === 204) return offset
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`upload ${id} could not be resumed (offset ${offset})`)
}

export async function startJob(url: string, body: object, headers: Record<string, string> = {}) {
  return fetch(`${url}/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
}

export async function waitDone(url: string, id: string, headers: Record<string, string> = {}) {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
    const view = await json(await fetch(`${url}/jobs/${id}`, { headers }))
    if (['succeeded', 'failed', 'canceled'].includes(view.status)) return view
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`job ${id} did not finish`)
}
