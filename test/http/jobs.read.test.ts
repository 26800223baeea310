/** `GET /jobs` and `GET /jobs/{job_id}` against the embedded service (suites/jobs-read.ts). */
import { jobsReadSuite } from './suites/jobs-read.js'
import { embedded } from './support/target.js'

jobsReadSuite(embedded)
