/**
 * The embedded service must never load Redis or AWS code (G4): only `jobs/bullmq/` imports
 * `bullmq`/`ioredis`, only `storage/s3/` imports `@aws-sdk/*`, and every other module reaches
 * those two folders through `import()` (or `import type`, which leaves nothing at run time).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { statusOfBullmqState } from '../../src/jobs/bullmq/job-state.js'

const root = resolve(import.meta.dirname, '../../src')

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(path)
    return entry.name.endsWith('.ts') ? [path] : []
  })
}

/** Specifiers of imports that load code when the module loads (not `import type`). */
function staticImports(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const found: string[] = []
  const pattern = /^\s*(import|export)\s+(type\s+)?[^'"]*?from\s*['"]([^'"]+)['"]/gm
  for (const m of text.matchAll(pattern)) if (!m[2]) found.push(m[3]!)
  for (const m of text.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm)) found.push(m[1]!)
  return found
}

/** Each fence: the files inside it (paths or folder prefixes) and the packages only they load. */
const FENCES = [
  { inside: [join(root, 'jobs', 'bullmq')], packages: /^(bullmq|ioredis)(\/|$)/ },
  {
    // The tus S3 store is S3-only too: it is loaded with import() when storage is S3.
    inside: [join(root, 'storage', 's3'), join(root, 'http', 'tus', 's3-tus-store.ts')],
    packages: /^@aws-sdk\//,
  },
]

describe('adapter boundaries', () => {
  it('keeps Redis and AWS code behind their folders and dynamic imports', () => {
    const offending: string[] = []
    for (const file of sourceFiles(root)) {
      for (const { inside, packages } of FENCES) {
        const within = (path: string) => inside.some((prefix) => path.startsWith(prefix))
        if (within(file)) continue
        for (const specifier of staticImports(file)) {
          const local = specifier.startsWith('.')
            ? resolve(dirname(file), specifier).replace(/\.js$/, '.ts')
            : ''
          if (packages.test(specifier) || (local !== '' && within(local))) {
            offending.push(`${relative(root, file)} loads ${specifier}`)
          }
        }
      }
    }
    expect(offending).toEqual([])
  })

  it('maps every BullMQ state to one of our statuses', () => {
    expect(statusOfBullmqState('waiting')).toBe('queued')
    expect(statusOfBullmqState('delayed')).toBe('queued')
    expect(statusOfBullmqState('prioritized')).toBe('queued')
    expect(statusOfBullmqState('waiting-children')).toBe('queued')
    expect(statusOfBullmqState('active')).toBe('running')
    expect(statusOfBullmqState('completed')).toBe('succeeded')
    expect(statusOfBullmqState('failed')).toBe('failed')
    expect(statusOfBullmqState('unknown')).toBe('missing')
  })
})
