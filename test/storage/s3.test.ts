/**
 * The S3 adapter against a real S3-compatible server (s3rver on 127.0.0.1): the BlobStore
 * contract, then what is particular to S3 (multipart uploads, bucket checks).
 */
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll } from 'vitest'
import { S3BlobStore } from '../../src/storage/s3/index.js'
import { Storage } from '../../src/storage/storage.js'
import { describeBlobStoreContract } from '../contracts/blob-store.js'
import { type S3Server, startS3Server } from '../support/s3-server.js'

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
