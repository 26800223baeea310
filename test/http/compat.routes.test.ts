/**
 * The earlier versions' routes (sets A to E) against the embedded service
 * (suites/compat-routes.ts), and each set's status mapping.
 */
import { describe, expect, it } from 'vitest'
import { statusA } from '../../src/http/compat/a/index.js'
import { stateB } from '../../src/http/compat/b/index.js'
import { statusC } from '../../src/http/compat/c/index.js'
import { stateD } from '../../src/http/compat/d/index.js'
import { statusE } from '../../src/http/compat/e/index.js'
import { compatRoutesSuite } from './suites/compat-routes.js'
import { embedded } from './support/target.js'

compatRoutesSuite(embedded)

describe('status mappings (one function per set)', () => {
  it('map every job status', () => {
    const statuses = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const
    expect(statuses.map(statusA)).toEqual([
      'pending',
      'processing',
      'completed',
      'failed',
      'failed',
    ])
    expect(statuses.map(stateB)).toEqual(['PENDING', 'STARTED', 'SUCCESS', 'FAILURE', 'FAILURE'])
    expect(statuses.map(statusC)).toEqual(['PENDING', 'STARTED', 'SUCCESS', 'FAILURE', 'FAILURE'])
    expect(statuses.map(stateD)).toEqual(['queued', 'started', 'finished', 'failed', 'failed'])
    expect(statuses.map(statusE)).toEqual(['processing', 'processing', 'done', 'failed', 'failed'])
  })
})
