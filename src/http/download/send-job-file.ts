/**
 * Sends a job's result or rejects from storage: an attachment named after the upload, with
 * Range requests (206/416) and gzip when the client accepts it and asked for no range (a range
 * addresses the bytes of the file itself, so a ranged answer is never compressed).
 */
import { pipeline } from 'node:stream'
import { createGzip } from 'node:zlib'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { REJECTS_HEADER } from '../../engine/index.js'
import type { Job } from '../../jobs/job.js'
import type { Storage } from '../../storage/storage.js'
import { isStorageError } from '../../storage/storage-error.js'
import { HttpError } from '../errors/api-errors.js'
import { attachment } from '../services/download-name.js'
import { expired, type JobFileKind, jobFile } from '../services/job-access.js'
import { acceptsGzip, parseRange, type RangeRequest } from './range.js'

/**
 * The engine's rejects header (src/engine/rejects.ts `REJECTS_HEADER`, not exported by the
 * engine's index): what a job that wrote no rejects file (`on_error=fail`) answers.
 */
const EMPTY_REJECTS = REJECTS_HEADER

export const CSV_CONTENT_TYPE = 'text/csv; charset=utf-8'

export async function sendJobFile(
  request: FastifyRequest,
  reply: FastifyReply,
  storage: Storage,
  job: Job,
  kind: JobFileKind,
): Promise<FastifyReply> {
  const file = jobFile(job, kind)
  reply
    .header('content-type', CSV_CONTENT_TYPE)
    .header('content-disposition', attachment(file.fileName))
    .header('cache-control', 'private, no-cache')
  if (file.key === null) return reply.send(EMPTY_REJECTS)
  let size: number
  try {
    size = (await storage.stat(file.key)).bytes
  } catch (error) {
    // The job says the file is there but it is not: removed behind the job's back. Gone is gone.
    if (isStorageError(error, 'E_BLOB_NOT_FOUND')) throw expired(job)
    throw error
  }
  reply
    .header('accept-ranges', 'bytes')
    .header('etag', file.etag)
    .header('last-modified', file.lastModified.toUTCString())
    .header('vary', 'accept-encoding')
  const range = rangeOf(request, size, file.etag)
  if (range.kind === 'unsatisfiable') {
    throw new HttpError(
      'RANGE_NOT_SATISFIABLE',
      `the range ${JSON.stringify(request.headers.range)} is outside the file (${size} bytes)`,
      { headers: { 'content-range': `bytes */${size}` } },
    )
  }
  if (range.kind === 'part') {
    const stream = await storage.get(file.key, { start: range.start, end: range.end })
    return reply
      .code(206)
      .header('content-range', `bytes ${range.start}-${range.end}/${size}`)
      .header('content-length', range.end - range.start + 1)
      .send(stream)
  }
  // The end given, the stream ends with the last byte instead of after one more empty read.
  const stream = await storage.get(file.key, size > 0 ? { start: 0, end: size - 1 } : {})
  if (acceptsGzip(request.headers['accept-encoding'])) {
    const gzip = createGzip()
    pipeline(stream, gzip, (error) => {
      if (error) request.log.debug({ err: error }, 'download stopped before the end')
    })
    return reply.header('content-encoding', 'gzip').send(gzip)
  }
  return reply.header('content-length', size).send(stream)
}

/** `If-Range` with another validator than ours means the client's copy is stale: send it all. */
function rangeOf(request: FastifyRequest, size: number, etag: string): RangeRequest {
  const ifRange = request.headers['if-range']
  if (ifRange !== undefined && ifRange !== etag) return { kind: 'whole' }
  return parseRange(request.headers.range, size)
}
