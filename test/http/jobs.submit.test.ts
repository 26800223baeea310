/** `POST /jobs` against the embedded service (the suite: suites/jobs-submit.ts). */
import { jobsSubmitSuite } from './suites/jobs-submit.js'
import { embedded } from './support/target.js'

// About 23 MB: tens of MB, as issue 3 asks.
jobsSubmitSuite(embedded, { bigRows: 800_000 })
