import type { JobBackend } from '../../jobs/backend.js'
import type { Storage } from '../../storage/storage.js'
import type { UploadService } from '../upload/upload-service.js'

/** What every compat route set works with: the same services as the primary API. */
export interface CompatDeps {
  jobs: JobBackend
  storage: Storage
  uploads: UploadService
}
