/** Concurrent uploads against the embedded service (suites/jobs-concurrent.ts). */
import { jobsConcurrentSuite } from './suites/jobs-concurrent.js'
import { embedded } from './support/target.js'

jobsConcurrentSuite(embedded)
