/**
 * s3rver with the three multipart calls it lacks and `@tus/s3-store` needs, for the tus-on-S3
 * tests. s3rver 3.7.1 (and its forks on npm) implements CreateMultipartUpload, UploadPart and
 * CompleteMultipartUpload, but answers the others with errors (lib/routes.js):
 *
 * - ListParts, `GET /bucket/key?uploadId=`: 405 MethodNotAllowed (the object GET route has no
 *   `uploadId` case). The store calls it on every PATCH and HEAD to compute the offset.
 * - ListMultipartUploads, `GET /bucket?uploads`: 501 NotImplemented. The expiry sweep uses it.
 * - AbortMultipartUpload, `DELETE /bucket/key?uploadId=`: 405 MethodNotAllowed. Termination and
 *   the expiry sweep use it.
 *
 * No option of the store avoids them, so this server adds them, answering as S3 does, on
 * s3rver's own record of multipart uploads (`<bucket>/._S3rver_uploads/<upload id>/` with the
 * files `key`, `metadata`, and one file and one `.md5` per part), in a Koa middleware placed
 * just before s3rver's router. Everything else is s3rver's (objects, DeleteObjects, SigV4 checks).
 * A real child process on 127.0.0.1, like `test/support/s3-server.ts`.
 */
import { createRequire } from 'node:module'
import { launchS3rver, type S3Server } from '../../support/s3-server.js'

export type MultipartS3Server = S3Server

/** Runs in the child: an ES module that loads s3rver (CommonJS) and its error class. */
const SCRIPT = `
  import { createRequire } from 'node:module'
  import { promises as fs } from 'node:fs'
  import { join } from 'node:path'
  const entry = process.argv[1]
  const require = createRequire(entry)
  const S3rver = require(entry)
  const S3Error = require('./models/error')
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: process.argv[2] })
  const uploadsDir = (bucket) => server.store.getResourcePath(bucket, undefined, 'uploads')
  const noSuchUpload = (id) =>
    new S3Error('NoSuchUpload', 'The specified upload does not exist.', { UploadId: id })
  async function uploadKey(bucket, id) {
    try {
      return (await fs.readFile(join(uploadsDir(bucket), id, 'key'))).toString()
    } catch {
      throw noSuchUpload(id)
    }
  }
  async function multipart(ctx, next) {
    // Path-style: /bucket, /bucket/ (the SDK's bucket calls) or /bucket/key.
    const match = /^\\/([^/]+)\\/?(.*)$/.exec(ctx.path)
    if (!match) return next()
    const bucket = match[1]
    const key = match[2] === '' ? undefined : decodeURIComponent(match[2])
    const query = ctx.query
    if (ctx.method === 'GET' && key !== undefined && 'uploadId' in query && !('partNumber' in query)) {
      const id = String(query.uploadId)
      if ((await uploadKey(bucket, id)) !== key) throw noSuchUpload(id)
      const dir = join(uploadsDir(bucket), id)
      const numbers = (await fs.readdir(dir)).filter((n) => /^\\d+$/.test(n)).map(Number)
      numbers.sort((a, b) => a - b)
      const parts = []
      for (const n of numbers) {
        const stat = await fs.stat(join(dir, String(n)))
        const md5 = (await fs.readFile(join(dir, n + '.md5'))).toString()
        parts.push({ PartNumber: n, LastModified: stat.mtime.toISOString(), ETag: JSON.stringify(md5), Size: stat.size })
      }
      ctx.body = { ListPartsResult: { Bucket: bucket, Key: key, UploadId: id, IsTruncated: false, Part: parts } }
      return
    }
    if (ctx.method === 'DELETE' && key !== undefined && 'uploadId' in query) {
      const id = String(query.uploadId)
      if ((await uploadKey(bucket, id)) !== key) throw noSuchUpload(id)
      await fs.rm(join(uploadsDir(bucket), id), { recursive: true, force: true })
      ctx.status = 204
      return
    }
    if (ctx.method === 'GET' && key === undefined && 'uploads' in query) {
      const prefix = String(query.prefix ?? '')
      const ids = await fs.readdir(uploadsDir(bucket)).catch(() => [])
      const uploads = []
      for (const id of ids) {
        const keyFile = join(uploadsDir(bucket), id, 'key')
        const [name, stat] = await Promise.all([fs.readFile(keyFile), fs.stat(keyFile)]).catch(() => [])
        if (name === undefined || !name.toString().startsWith(prefix)) continue
        uploads.push({ Key: name.toString(), UploadId: id, Initiated: stat.mtime.toISOString() })
      }
      ctx.body = { ListMultipartUploadsResult: { Bucket: bucket, Prefix: prefix, IsTruncated: false, Upload: uploads } }
      return
    }
    return next()
  }
  server.middleware.splice(server.middleware.length - 1, 0, multipart)
  const { port } = await server.run()
  process.stdout.write(JSON.stringify({ port }) + '\\n')
  process.on('SIGTERM', () => server.close().finally(() => process.exit(0)))
`

export async function startMultipartS3Server(): Promise<MultipartS3Server> {
  return launchS3rver(SCRIPT, [createRequire(import.meta.url).resolve('s3rver')], 30_000)
}
