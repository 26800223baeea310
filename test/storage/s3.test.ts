/**
 * The S3 adapter against a real S3-compatible server (s3rver on 127.0.0.1): the BlobStore
 * contract, then what is particular to S3 (multipart uploads, bucket checks).
 */
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { GetObjectCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { aggregateSync } from '../../src/engine/index.js'
import { LocalJobBackend } from '../../src/jobs/local/local-job-backend.js'
import { EngineJobRunner } from '../../src/jobs/runner.js'
import { createS3BlobStore, parseS3Url, S3BlobStore } from '../../src/storage/s3/index.js'
import { Storage } from '../../src/storage/storage.js'
import type { BlobStore } from '../../src/storage/types.js'
import {
  chunks,
  collect,
  describeBlobStoreContract,
  readAll,
  text,
} from '../contracts/blob-store.js'
import { DESIGN_INPUT, DESIGN_OUTPUT } from '../support/design-example.js'
import { largeCsv } from '../support/large-csv.js'
import { S3RVER_CREDENTIALS, type S3Server, startS3Server } from '../support/s3-server.js'

let s3: S3Server

beforeAll(async () => {
  s3 = await startS3Server()
})

afterAll(async () => {
  await s3?.stop()
})

async function freshStore(prefix = ''): Promise<S3BlobStore> {
  const bucket = `test-${randomUUID()}`
  await s3.createBucket(bucket)
  return new S3BlobStore({ client: s3.client(), bucket, prefix })
}

describeBlobStoreContract('s3', async () => ({ store: await freshStore() }))

describeBlobStoreContract('Storage facade over s3, under a key prefix', async () => ({
  store: new Storage(await freshStore('tally/files/')),
}))

describe('S3BlobStore', () => {
  it('streams a large blob as a multipart upload and reads ranges across parts', async () => {
    const store = new S3BlobStore({
      client: s3.client(),
      ...(await newBucket()),
      partSizeBytes: 5 * MIB,
      queueSize: 2,
    })
    await store.init()
    const data = pattern(12 * MIB + 3)
    const parts = (async function* () {
      for (let at = 0; at < data.length; at += MIB) yield data.subarray(at, at + MIB)
    })()
    expect(await store.put('big/blob', parts)).toEqual({ bytes: data.length })
    expect((await store.stat('big/blob')).bytes).toBe(data.length)
    expect((await readAll(await store.get('big/blob'))).equals(data)).toBe(true)
    const across = await readAll(
      await store.get('big/blob', { start: 5 * MIB - 2, end: 5 * MIB + 1 }),
    )
    expect(across.equals(data.subarray(5 * MIB - 2, 5 * MIB + 2))).toBe(true)
  })

  it('keeps the old blob when a multipart upload fails after some parts', async () => {
    const store = new S3BlobStore({
      client: s3.client(),
      ...(await newBucket()),
      partSizeBytes: 5 * MIB,
    })
    await store.init()
    await store.put('k', chunks('old content'))
    const failure = new Error('client went away')
    const failing = (async function* () {
      for (let i = 0; i < 11; i++) yield pattern(MIB)
      throw failure
    })()
    await expect(store.put('k', failing)).rejects.toBe(failure)
    expect(await text(store, 'k')).toBe('old content')
    expect(await collect(store.list(''))).toEqual(['k'])
  })

  it('does no I/O in its constructor; init says clearly when the bucket is missing', async () => {
    const store = new S3BlobStore({ client: s3.client(), bucket: 'no-such-bucket', prefix: '' })
    const error = await store.init().then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toMatchObject({ code: 'E_STORAGE' })
    expect((error as Error).message).toMatch(/no-such-bucket.*does not exist/)
  })

  it('builds its client from settings and stores blobs under the URL prefix', async () => {
    const { bucket } = await newBucket()
    const store = createS3BlobStore({
      url: `s3://${bucket}/tally/files`,
      endpoint: s3.endpoint,
      ...S3RVER_CREDENTIALS,
    })
    await store.init()
    try {
      await store.put('results/job_1.csv', chunks('Song\n'))
      // The raw SDK as the oracle: the object name is <prefix>/<key>.
      const raw = await s3
        .client()
        .send(new GetObjectCommand({ Bucket: bucket, Key: 'tally/files/results/job_1.csv' }))
      expect(await raw.Body!.transformToString()).toBe('Song\n')
      expect(await collect(store.list(''))).toEqual(['results/job_1.csv'])
    } finally {
      await store.close()
    }
  })

  it('parses s3:// URLs and refuses bad ones', () => {
    expect(parseS3Url('s3://bucket')).toEqual({ bucket: 'bucket', prefix: '' })
    expect(parseS3Url('s3://my.bucket-1/a/b/')).toEqual({ bucket: 'my.bucket-1', prefix: 'a/b/' })
    for (const bad of [
      's3://',
      's3://Bucket',
      's3://b',
      's3://bucket/../x',
      's3://bucket/a//b',
      'file:///x',
    ]) {
      expect(() => parseS3Url(bad), bad).toThrow()
    }
    expect(() => createS3BlobStore({ url: 's3://bucket', accessKeyId: 'only-one' })).toThrow(/both/)
  })

  it('serves the runner: a job end to end with its input and outputs in S3', async () => {
    const storage = new Storage(new S3BlobStore({ client: s3.client(), ...(await newBucket()) }))
    await storage.init()
    const dir = await mkdtemp(join(tmpdir(), 'tally-s3-runner-'))
    const runner = new EngineJobRunner({
      storage,
      threads: 2,
      memoryMb: 64,
      tempDir: join(dir, 'tmp'),
    })
    await runner.init()
    const backend = new LocalJobBackend({
      path: join(dir, 'jobs.sqlite'),
      storage,
      concurrency: 1,
      queueLimit: 10,
      resultTtlSeconds: 60,
    })
    await backend.init()
    try {
      await backend.start(runner)
      const { bytes } = await storage.put('uploads/in', chunks(DESIGN_INPUT))
      const job = await backend.submit({ input: { key: 'uploads/in', fileName: 'in.csv', bytes } })
      await expect
        .poll(async () => (await backend.get(job.id))?.status, { timeout: 20_000 })
        .toBe('succeeded')
      expect(await text(storage, `results/${job.id}.csv`)).toBe(DESIGN_OUTPUT)
      await expect(storage.stat('uploads/in')).rejects.toMatchObject({ code: 'E_BLOB_NOT_FOUND' })
    } finally {
      await backend.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('a worker on S3 storage', () => {
  it('reads a large input slice by slice by byte ranges, never whole, and gives the exact output', async () => {
    const s3Store = new S3BlobStore({ client: s3.client(), ...(await newBucket()) })
    const ranges: { key: string; start: number; end: number }[] = []
    // The store as the runner sees it, recording every read of the input.
    const recording: BlobStore = {
      init: () => s3Store.init(),
      close: () => s3Store.close(),
      put: (key, source, options) => s3Store.put(key, source, options),
      stat: (key) => s3Store.stat(key),
      delete: (key) => s3Store.delete(key),
      list: (prefix) => s3Store.list(prefix),
      get: (key, range) => {
        if (key === 'uploads/big') {
          ranges.push({
            key,
            start: range?.start ?? 0,
            end: range?.end ?? Number.POSITIVE_INFINITY,
          })
        }
        return s3Store.get(key, range)
      },
    }
    const storage = new Storage(recording)
    await storage.init()
    const dir = await mkdtemp(join(tmpdir(), 'tally-s3-slices-'))
    const input = largeCsv(3, 5 * MIB)
    const sliceBytes = MIB
    const runner = new EngineJobRunner({
      storage,
      threads: 2,
      memoryMb: 64,
      tempDir: join(dir, 'tmp'),
      sliceBytes,
    })
    await runner.init()
    const backend = new LocalJobBackend({
      path: join(dir, 'jobs.sqlite'),
      storage,
      concurrency: 1,
      queueLimit: 10,
      resultTtlSeconds: 60,
    })
    await backend.init()
    try {
      await backend.start(runner)
      const { bytes } = await storage.put('uploads/big', Readable.from([input]))
      const job = await backend.submit({
        input: { key: 'uploads/big', fileName: 'big.csv', bytes },
        options: { order: 'sorted' },
      })
      await expect
        .poll(async () => (await backend.get(job.id))?.status, { timeout: 60_000 })
        .toBe('succeeded')
      const expected = aggregateSync(input, { order: 'sorted' })
      expect((await readAll(await storage.get(`results/${job.id}.csv`))).equals(expected.csv)).toBe(
        true,
      )
      expect(
        (await readAll(await storage.get(`rejects/${job.id}.csv`))).equals(expected.rejectsCsv),
      ).toBe(true)
      // Every read was a range of about one slice (plus the slack for its last row).
      const slices = ranges.filter((r) => r.end - r.start + 1 > 16)
      expect(slices.length).toBeGreaterThanOrEqual(5)
      for (const r of slices) expect(r.end - r.start + 1).toBeLessThanOrEqual(sliceBytes + 2 * MIB)
      expect(ranges.every((r) => Number.isFinite(r.end))).toBe(true)
    } finally {
      await backend.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})

const MIB = 1024 * 1024

async function newBucket(): Promise<{ bucket: string; prefix: string }> {
  const bucket = `test-${randomUUID()}`
  await s3.createBucket(bucket)
  return { bucket, prefix: '' }
}

function pattern(bytes: number): Buffer {
  const data = Buffer.alloc(bytes)
  for (let i = 0; i < bytes; i++) data[i] = (i * 31 + (i >> 11)) & 0xff
  return data
}
