/** The primary API's job routes, one encapsulated plugin (its raw-body parser stays inside). */
import type { JobBackend } from '../../../jobs/backend.js'
import type { Storage } from '../../../storage/storage.js'
import type { TusUploads } from '../../tus/tus-uploads.js'
import type { HttpApp } from '../../types.js'
import type { UploadService } from '../../upload/upload-service.js'
import { deleteRoute } from './delete.js'
import { eventsRoute } from './events.js'
import { fileRoutes } from './files.js'
import { readRoutes } from './read.js'
import { submitRoute } from './submit.js'

export interface JobRoutesDeps {
  jobs: JobBackend
  storage: Storage
  uploads: UploadService
  sseHeartbeatMs: number
  tus?: TusUploads
}

export async function jobRoutes(app: HttpApp, deps: JobRoutesDeps): Promise<void> {
  await app.register(submitRoute, { uploads: deps.uploads, tus: deps.tus })
  await app.register(readRoutes, { jobs: deps.jobs })
  await app.register(eventsRoute, { jobs: deps.jobs, heartbeatMs: deps.sseHeartbeatMs })
  await app.register(fileRoutes, { jobs: deps.jobs, storage: deps.storage })
  await app.register(deleteRoute, { jobs: deps.jobs })
}
