/**
 * The tus 1.0 side of uploads: creation, termination and expiration. `@tus/server` over
 * `@tus/file-store` in `<data dir>/tus`, or, when the service's storage is S3, over
 * `@tus/s3-store` in the same bucket under `<prefix>tus/` (`s3-tus-store.ts`, loaded only then),
 * so every API process behind a load balancer sees every upload. Finished uploads become jobs through `POST /jobs` with
 * `{"upload_id"}` (`claim`), which copies the file through the usual upload gate, so its header
 * is inspected like any other upload's.
 *
 * With API keys on, an upload belongs to the key that created it: the owner is written into the
 * upload's metadata by the server (never trusted from the client), and another key gets a 404.
 */
import type { IncomingMessage } from 'node:http'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { FileStore } from '@tus/file-store'
import { Server } from '@tus/server'
import type { DataStore, Upload } from '@tus/utils'
import type { S3TusStoreOptions } from './s3-tus-store.js'

export const TUS_PATH = '/uploads'

/** Metadata key the server writes; a client's own value under this name is dropped. */
export const OWNER_META = 'tally_owner'

/** tus ids made by the server are hex; anything else cannot name an upload (nor a path). */
const UPLOAD_ID = /^[A-Za-z0-9_-]{1,128}$/

export interface TusUploadsOptions {
  dataDir: string
  maxUploadBytes: number
  /** Unfinished uploads older than this are removed by `cleanUpExpired`. */
  expiryMs: number
  /** The S3 store to keep uploads in (the service's storage is S3). Absent: `<data dir>/tus`. */
  s3?: Omit<S3TusStoreOptions, 'expiryMs'>
}

export type FoundUpload =
  | { state: 'missing' }
  | { state: 'unfinished'; upload: Upload }
  | { state: 'finished'; upload: Upload; fileName: string | undefined }

/** What both stores offer besides the `DataStore` API: the bytes of a finished upload. */
export type TusStore = DataStore & {
  read(id: string): Readable | Promise<Readable>
  /** Releases the store's connections (the S3 client). */
  close?(): void
}

export class TusUploads {
  readonly server: Server
  /** Who sends each creation request in flight (set by the route, read by `onUploadCreate`). */
  private readonly owners = new WeakMap<object, string>()

  /** The uploads with the store the options name (the S3 code is loaded only for S3). */
  static async create(options: TusUploadsOptions): Promise<TusUploads> {
    if (options.s3 === undefined) {
      const store = new FileStore({
        directory: join(options.dataDir, 'tus'),
        expirationPeriodInMilliseconds: options.expiryMs,
      })
      return new TusUploads(options, store)
    }
    const { S3TusStore } = await import('./s3-tus-store.js')
    return new TusUploads(options, new S3TusStore({ ...options.s3, expiryMs: options.expiryMs }))
  }

  constructor(
    options: TusUploadsOptions,
    private readonly store: TusStore,
  ) {
    this.server = new Server({
      path: TUS_PATH,
      datastore: this.store,
      maxSize: options.maxUploadBytes,
      // Behind a proxy the client resolves it against the URL it used.
      relativeLocation: true,
      // The owner comes from the request's key, never from the client's metadata.
      onUploadCreate: async (req, upload) => {
        const { [OWNER_META]: _dropped, ...metadata } = upload.metadata ?? {}
        const owner = this.owners.get(nodeRequest(req) ?? this)
        return { metadata: owner === undefined ? metadata : { ...metadata, [OWNER_META]: owner } }
      },
    })
  }

  /** Records the key behind a creation request, for the upload's metadata. */
  setOwner(request: IncomingMessage, owner: string): void {
    this.owners.set(request, owner)
  }

  /** The upload `id` as the key `owner` sees it: someone else's upload is "missing". */
  async find(id: string, owner: string | null): Promise<FoundUpload> {
    if (!UPLOAD_ID.test(id)) return { state: 'missing' }
    let upload: Upload
    try {
      upload = await this.store.getUpload(id)
    } catch {
      return { state: 'missing' }
    }
    if (!ownedBy(upload, owner)) return { state: 'missing' }
    if (upload.size === undefined || upload.offset !== upload.size) {
      return { state: 'unfinished', upload }
    }
    const meta = upload.metadata ?? {}
    return { state: 'finished', upload, fileName: meta.filename ?? meta.name ?? undefined }
  }

  /** The bytes of a finished upload (`find` said so), streamed from where the store keeps them. */
  async read(id: string): Promise<Readable> {
    return this.store.read(id)
  }

  /** Deletes an upload (once its job has its own copy). Never throws: it is cleanup. */
  async remove(id: string): Promise<void> {
    await this.store.remove(id).catch(() => {})
  }

  close(): void {
    this.store.close?.()
  }

  /** Removes unfinished uploads past their expiry; returns how many. */
  async cleanUpExpired(): Promise<number> {
    return this.server.cleanUpExpiredUploads()
  }
}

export function ownedBy(upload: Upload, owner: string | null): boolean {
  if (owner === null) return true
  return upload.metadata?.[OWNER_META] === owner
}

/** The Node request under `@tus/server`'s web request (srvx keeps it at `runtime.node.req`). */
function nodeRequest(req: unknown): IncomingMessage | undefined {
  return (req as { runtime?: { node?: { req?: IncomingMessage } } }).runtime?.node?.req
}
