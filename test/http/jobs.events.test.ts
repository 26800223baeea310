/** `GET /jobs/{id}/events` against the embedded service (suites/jobs-events.ts). */
import { jobsEventsSuite } from './suites/jobs-events.js'
import { embedded } from './support/target.js'

jobsEventsSuite(embedded)
