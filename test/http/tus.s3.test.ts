/**
 * tus uploads when the storage is S3 (`TALLY_STORAGE=s3://bucket/prefix`), over real HTTP on
 * 127.0.0.1 against a real S3-compatible server process (s3rver, with the multipart calls it
 * lacks added: see support/s3rver-multipart.ts). The upload lives in the bucket under
 * `<prefix>/tus/` (nothing in the data directory): cut off mid-PATCH it resumes from the offset
 * the server reports (whole 8 MiB parts plus the tail kept as `<id>.part`), its job's output is
 * the engine's own, and the upload's objects are gone once the job exists. Termination and the
 * expiry sweep delete the objects and abort the multipart upload.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import {
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { S3RVER_CREDENTIALS } from '../support/s3-server.js'
import { type MultipartS3Server, startMultipartS3Server } from './support/s3rver-multipart.js'
import { engineOutput, songPlays, startService, type TestService } from './support/service.js'
import {
  createUpload,
  headOffset,
  json,
  patch,
  patchCutOff,
  resume,
  startJob,
  TUS,
  waitDone,
} from './support/tus-client.js'

const BUCKET = 'tally-tus'
const MIB = 1024 * 1024

let s3: MultipartS3Server
let client: S3Client

beforeAll(async () => {
  s3 = await startMultipartS3Server()
  await s3.createBucket(BUCKET)
  client = s3.client()
}, 60_000)

afterAll(async () => s3?.stop())

function s3Service(prefix: string, uploadExpiryMs?: number): Promise<TestService> {
  return startService({
    listen: true,
    env: {
      TALLY_STORAGE: `s3://${BUCKET}/${prefix}`,
      TALLY_S3_ENDPOINT: s3.endpoint,
      TALLY_S3_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      TALLY_S3_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    },
    http: uploadExpiryMs === undefined ? {} : { uploadExpiryMs },
  })
}

/** The objects in the bucket under `prefix`. */
async function objects(prefix: string): Promise<string[]> {
  const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }))
  return (listed.Contents ?? []).map((object) => object.Key ?? '').sort()
}

/** The multipart uploads open under `prefix`. */
async function openUploads(prefix: string): Promise<string[]> {
  const listed = await client.send(
    new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: prefix }),
  )
  return (listed.Uploads ?? []).map((upload) => upload.Key ?? '')
}

describe('tus uploads on S3 storage', () => {
  let t: TestService
  beforeAll(async () => {
    t = await s3Service('svc')
  }, 60_000)
  afterAll(async () => t?.close())

  it('resumes an upload cut off mid-PATCH, and its job output is exact', async () => {
    // Over 8 MiB: one whole part, and a tail shorter than S3's 5 MiB minimum part.
    const csv = songPlays(400_000, 11)
    expect(csv.length).toBeGreaterThan(9 * MIB)
    const id = await createUpload(t.url, csv.length, {}, 'big plays.csv')
    expect(await objects(`svc/tus/${id}`)).toEqual([`svc/tus/${id}.info`])
    expect(await openUploads('svc/tus/')).toEqual([`svc/tus/${id}`])

    await patchCutOff(t.url, id, csv.subarray(0, 9 * MIB), csv.length)
    const offset = await resume(t.url, id, csv)
    // What arrived before the cut was kept: the 8 MiB part, and the rest as `<id>.part`.
    expect(offset).toBeGreaterThanOrEqual(8 * MIB)
    expect(offset).toBeLessThanOrEqual(9 * MIB)
    expect(await headOffset(t.url, id)).toEqual({ status: 200, offset: csv.length })
    expect(await objects(`svc/tus/${id}`)).toEqual([`svc/tus/${id}`, `svc/tus/${id}.info`])
    expect(await openUploads('svc/tus/')).toEqual([])

    const response = await startJob(t.url, { upload_id: id, order: 'sorted' })
    expect(response.status, await response.clone().text()).toBe(202)
    const job = await json(response)
    const view = (await waitDone(t.url, job.job_id)) as unknown as {
      status: string
      file_name: string
    }
    expect(view.status).toBe('succeeded')
    expect(view.file_name).toBe('big plays.csv')
    const result = Buffer.from(
      await (await fetch(`${t.url}/jobs/${job.job_id}/result`)).arrayBuffer(),
    )
    expect(result.equals(await engineOutput(csv, { order: 'sorted' }))).toBe(true)

    // One upload, one job: the upload's objects are gone and it cannot start another.
    expect(await objects(`svc/tus/${id}`)).toEqual([])
    expect((await startJob(t.url, { upload_id: id })).status).toBe(404)
    // Nothing went through the data directory.
    expect(existsSync(join(t.dir, 'tus'))).toBe(false)
  }, 180_000)

  it('answers 404 for an unknown upload, 409 for an unfinished one, 422 without the columns', async () => {
    const unknown = await startJob(t.url, { upload_id: 'ffffffffffffffffffffffffffffffff' })
    expect(unknown.status).toBe(404)
    expect((await json(unknown)).code).toBe('UPLOAD_NOT_FOUND')

    const unfinished = await createUpload(t.url, 100)
    const tooEarly = await startJob(t.url, { upload_id: unfinished })
    expect(tooEarly.status).toBe(409)
    expect((await json(tooEarly)).code).toBe('UPLOAD_NOT_FINISHED')

    const csv = Buffer.from('Song,Date\nUmbrella,2020-01-01\n')
    const id = await createUpload(t.url, csv.length)
    expect((await patch(t.url, id, 0, csv)).status).toBe(204)
    const refused = await startJob(t.url, { upload_id: id })
    expect(refused.status).toBe(422)
    expect((await json(refused)).code).toBe('CSV_MISSING_COLUMNS')
  }, 60_000)

  it('terminates an upload (DELETE): its objects and multipart upload are gone', async () => {
    const id = await createUpload(t.url, 1000)
    expect((await patch(t.url, id, 0, Buffer.alloc(300, 'a'))).status).toBe(204)
    expect(await headOffset(t.url, id)).toEqual({ status: 200, offset: 300 })
    expect(await objects(`svc/tus/${id}`)).toEqual([`svc/tus/${id}.info`, `svc/tus/${id}.part`])

    const deleted = await fetch(`${t.url}/uploads/${id}`, { method: 'DELETE', headers: TUS })
    expect(deleted.status).toBe(204)
    expect((await headOffset(t.url, id)).status).toBe(404)
    expect(await objects(`svc/tus/${id}`)).toEqual([])
    expect(await openUploads(`svc/tus/${id}`)).toEqual([])
    expect((await startJob(t.url, { upload_id: id })).status).toBe(404)
  }, 60_000)
})

describe('tus expiration on S3 storage', () => {
  it('removes unfinished uploads once expired, and keeps the finished ones', async () => {
    const t = await s3Service('expiring', 1500)
    try {
      const csv = Buffer.from('Song,Date,Number of Plays\nUmbrella,2020-01-01,1\n')
      const finished = await createUpload(t.url, csv.length)
      expect((await patch(t.url, finished, 0, csv)).status).toBe(204)
      const id = await createUpload(t.url, 1000)
      expect((await patch(t.url, id, 0, Buffer.alloc(10, 'a'))).status).toBe(204)
      expect(await objects(`expiring/tus/${id}`)).toHaveLength(2)

      // The sweep (as often as uploads expire, here) aborts the multipart upload and deletes
      // the `.info` and `.part` objects.
      const deadline = Date.now() + 30_000
      while ((await objects(`expiring/tus/${id}`)).length > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 250))
      }
      expect(await objects(`expiring/tus/${id}`)).toEqual([])
      expect(await openUploads('expiring/tus/')).toEqual([])
      expect([404, 410]).toContain((await headOffset(t.url, id)).status)

      // A finished upload is not an expired one: it still starts its job.
      const started = await startJob(t.url, { upload_id: finished })
      expect(started.status, await started.clone().text()).toBe(202)
      expect((await waitDone(t.url, (await json(started)).job_id)).status).toBe('succeeded')
    } finally {
      await t.close()
    }
  }, 90_000)
})
