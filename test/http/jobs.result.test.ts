/** Downloads and deletes against the embedded service (suites/jobs-result.ts). */
import { jobsResultSuite } from './suites/jobs-result.js'
import { embedded } from './support/target.js'

jobsResultSuite(embedded, { runningRows: 500_000 })
