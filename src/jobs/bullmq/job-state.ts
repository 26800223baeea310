import type { JobState } from 'bullmq'
import type { JobStatus } from '../job.js'

/**
 * BullMQ's state of a job -> our closed status union, in one place (G5). `missing`: BullMQ has
 * no such job (never added, or removed once finished). The job record stays the truth; this
 * mapping is what reconciliation compares it with.
 */
export function statusOfBullmqState(state: JobState | 'unknown'): JobStatus | 'missing' {
  switch (state) {
    case 'waiting':
    case 'delayed':
    case 'prioritized':
    case 'waiting-children':
      return 'queued'
    case 'active':
      return 'running'
    case 'completed':
      return 'succeeded'
    case 'failed':
      return 'failed'
    case 'unknown':
      return 'missing'
  }
}
