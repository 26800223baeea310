/**
 * Dropzone-style chunked uploads (set C), staged in storage until every byte is there.
 *
 * Layout: each chunk is its own blob, `staging/dropzone/<owner>/<dzuuid>/<byte offset>`, so
 * chunks may arrive in any order, concurrently, or again (a retried chunk replaces its blob:
 * same offset, same key). Writing chunks as blobs rather than at an offset inside one file keeps
 * to the BlobStore port, which has no random-access write, and so works on any store. Once the
 * chunks tile the whole file (offset 0 to `dztotalfilesize`, no gap, no overlap), they are
 * concatenated through the normal upload path (size limit, header inspection) into the job's
 * upload, the job is queued, a marker `.../job` records its id, and the chunks are deleted. A
 * chunk retried after that answers with the same job id.
 *
 * Per upload, a lock serialises the bookkeeping (not the chunk writes) so two last chunks
 * arriving together queue one job. What is known about an upload is kept in memory while it is
 * in progress and rebuilt from the blobs after a restart.
 */
import { Readable } from 'node:stream'
import { text } from 'node:stream/consumers'
import { isEngineError } from '../../../engine/index.js'
import { createJobId, type Job } from '../../../jobs/job.js'
import type { Storage } from '../../../storage/storage.js'
import { HttpError } from '../../errors/api-errors.js'
import { HeaderInspector } from '../../upload/header-inspector.js'
import { parseOptions, specOf, type UploadService } from '../../upload/upload-service.js'

export interface ChunkFields {
  uuid: string
  offset: number
  totalBytes: number
  fileName: string
}

export type ChunkOutcome = { complete: false } | { complete: true; jobId: string }

interface UploadState {
  totalBytes: number
  /** Chunk offset -> its bytes. */
  chunks: Map<number, number>
  jobId: string | undefined
}

const UUID = /^[A-Za-z0-9_-]{1,128}$/
const MARKER = 'job'

/** Form fields -> a chunk's coordinates; `CHUNK_INVALID` saying which field is wrong. */
export function parseChunkFields(
  fields: Record<string, string>,
  partFileName: string,
): ChunkFields {
  const uuid = fields.dzuuid ?? ''
  if (!UUID.test(uuid)) throw invalid('dzuuid must be 1 to 128 letters, digits, - or _')
  const offset = integerField(fields, 'dzchunkbyteoffset')
  const totalBytes = integerField(fields, 'dztotalfilesize')
  if (offset > totalBytes) throw invalid('dzchunkbyteoffset is past dztotalfilesize')
  const fileName = (fields.dzfilename ?? '').trim() || partFileName
  return { uuid, offset, totalBytes, fileName }
}

export class DropzoneStaging {
  private readonly states = new Map<string, UploadState>()
  private readonly locks = new Map<string, Promise<unknown>>()

  constructor(
    private readonly storage: Storage,
    private readonly uploads: UploadService,
  ) {}

  /** Stores one chunk; queues the job when it completes the file. */
  async receive(
    source: Readable,
    chunk: ChunkFields,
    owner: string | null,
    signal: AbortSignal,
  ): Promise<ChunkOutcome> {
    const prefix = `staging/dropzone/${owner ?? 'anonymous'}/${chunk.uuid}/`
    const known = this.states.get(prefix)
    if (known === undefined) await this.uploads.precheck(chunk.totalBytes)
    else if (known.totalBytes !== chunk.totalBytes) {
      throw invalid(`dztotalfilesize changed from ${known.totalBytes} to ${chunk.totalBytes}`)
    }
    const key = `${prefix}${chunk.offset}`
    const bytes = await this.uploads.put(key, source, {
      maxBytes: chunk.totalBytes - chunk.offset,
      // The first chunk shows the header: a file without the columns is refused at once.
      inspector:
        chunk.offset === 0
          ? new HeaderInspector(specOf(parseOptions({})), {
              partial: chunk.totalBytes > 0,
            })
          : undefined,
      signal,
    })
    if (bytes === 0 && chunk.totalBytes > 0) {
      await this.storage.delete(key).catch(() => {})
      throw invalid('the chunk is empty')
    }
    return this.locked(prefix, async () => {
      const state = await this.state(prefix, chunk.totalBytes)
      if (state.jobId) return { complete: true, jobId: state.jobId }
      state.chunks.set(chunk.offset, bytes)
      const order = tiling(state)
      if (!order) return { complete: false }
      const job = await this.assemble(prefix, order, chunk.fileName, owner)
      state.jobId = job.id
      this.states.delete(prefix)
      return { complete: true, jobId: job.id }
    })
  }

  private async assemble(
    prefix: string,
    offsets: number[],
    fileName: string,
    owner: string | null,
  ): Promise<Job> {
    const storage = this.storage
    const keys = offsets.map((offset) => `${prefix}${offset}`)
    const options = parseOptions({})
    async function* concatenated() {
      for (const key of keys) yield* await storage.get(key)
    }
    let stored: Awaited<ReturnType<UploadService['store']>>
    try {
      stored = await this.uploads.store(Readable.from(concatenated()), {
        jobId: createJobId(),
        spec: specOf(options),
      })
    } catch (error) {
      // A file refused for its content will not get better: drop the chunks.
      if (isEngineError(error)) await this.deleteAll(prefix)
      throw error
    }
    // Queue full: the chunks stay, so the client's retry of this chunk can finish the job.
    const job = await this.uploads.submit(stored, { fileName, options, owner })
    await this.storage.put(`${prefix}${MARKER}`, Readable.from([Buffer.from(job.id)]))
    for (const key of keys) await this.storage.delete(key).catch(() => {})
    return job
  }

  /** The in-memory state, or rebuilt from the staged blobs (after a restart). */
  private async state(prefix: string, totalBytes: number): Promise<UploadState> {
    let state = this.states.get(prefix)
    if (state) return state
    state = { totalBytes, chunks: new Map(), jobId: undefined }
    for await (const key of this.storage.list(prefix)) {
      const name = key.slice(prefix.length)
      if (name === MARKER) state.jobId = (await text(await this.storage.get(key))).trim()
      else if (/^\d+$/.test(name))
        state.chunks.set(Number(name), (await this.storage.stat(key)).bytes)
    }
    this.states.set(prefix, state)
    return state
  }

  private async deleteAll(prefix: string): Promise<void> {
    this.states.delete(prefix)
    for await (const key of this.storage.list(prefix))
      await this.storage.delete(key).catch(() => {})
  }

  private async locked<T>(name: string, run: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(name) ?? Promise.resolve()
    const current = previous.catch(() => {}).then(run)
    this.locks.set(name, current)
    try {
      return await current
    } finally {
      if (this.locks.get(name) === current) this.locks.delete(name)
    }
  }
}

/** The chunk offsets in file order when they cover the file exactly; undefined otherwise. */
function tiling(state: UploadState): number[] | undefined {
  const offsets = [...state.chunks.keys()].sort((a, b) => a - b)
  let at = 0
  const used: number[] = []
  for (const offset of offsets) {
    if (offset !== at) continue
    used.push(offset)
    at += state.chunks.get(offset)!
  }
  return at === state.totalBytes && used.length > 0 ? used : undefined
}

function integerField(fields: Record<string, string>, name: string): number {
  const value = fields[name]
  if (value === undefined || !/^\d{1,16}$/.test(value.trim())) {
    throw invalid(`${name} must be a non-negative integer, got ${JSON.stringify(value ?? null)}`)
  }
  return Number(value.trim())
}

function invalid(message: string): HttpError {
  return new HttpError('CHUNK_INVALID', message)
}
