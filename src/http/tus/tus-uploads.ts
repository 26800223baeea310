/**
 * The tus 1.0 side of uploads (`@tus/server` over `@tus/file-store` in `<data dir>/tus`):
 * creation, termination and expiration. Finished uploads become jobs through `POST /jobs` with
 * `{"upload_id"}` (`claim`), which copies the file through the usual upload gate, so its header
 * is inspected like any other upload's.
 *
 * With API keys on, an upload belongs to the key that created it: the owner is written into the
 * upload's metadata by the server (never trusted from the client), and another key gets a 404.
 */
import type { IncomingMessage } from 'node:http'
import { join } from 'node:path'
import { FileStore } from '@tus/file-store'
import { Server } from '@tus/server'
import type { Upload } from '@tus/utils'

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
}

export type FoundUpload =
  | { state: 'missing' }
  | { state: 'unfinished'; upload: Upload }
  | { state: 'finished'; upload: Upload; path: string; fileName: string | undefined }

export class TusUploads {
  readonly server: Server
  readonly directory: string
  private readonly store: FileStore
  /** Who sends each creation request in flight (set by the route, read by `onUploadCreate`). */
  private readonly owners = new WeakMap<object, string>()

  constructor(options: TusUploadsOptions) {
    this.directory = join(options.dataDir, 'tus')
    this.store = new FileStore({
      directory: this.directory,
      expirationPeriodInMilliseconds: options.expiryMs,
    })
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
    return {
      state: 'finished',
      upload,
      path: join(this.directory, id),
      fileName: meta.filename ?? meta.name ?? undefined,
    }
  }

  /** Deletes an upload (once its job has its own copy). Never throws: it is cleanup. */
  async remove(id: string): Promise<void> {
    await this.store.remove(id).catch(() => {})
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
