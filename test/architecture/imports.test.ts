/**
 * The layering rules of DESIGN.md section 2, checked on the sources: the engine imports only
 * Node built-ins and itself, no module imports itself back through a cycle, and the S3 code
 * (`@aws-sdk/*`, `@tus/s3-store`) stays in its modules, which the rest loads only with `import()`
 * so an embedded run never loads it.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '../../src')

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(path)
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : []
  })
}

/** Import and export-from specifiers, static and dynamic. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const found = new Set<string>()
  const patterns = [
    /^\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/gm,
    /^\s*import\s*['"]([^'"]+)['"]/gm,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  ]
  for (const pattern of patterns) for (const m of text.matchAll(pattern)) found.add(m[1]!)
  return [...found]
}

/** Imports that load the module when the importer loads: not `import()`, not `import type`. */
function staticImportsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const found = new Set<string>()
  const patterns = [
    /^\s*(?:import|export)\s(?!type\s)[^'"]*?from\s*['"]([^'"]+)['"]/gm,
    /^\s*import\s*['"]([^'"]+)['"]/gm,
  ]
  for (const pattern of patterns) for (const m of text.matchAll(pattern)) found.add(m[1]!)
  return [...found]
}

function resolveLocal(from: string, specifier: string): string {
  return resolve(dirname(from), specifier).replace(/\.js$/, '.ts')
}

describe('architecture', () => {
  const files = sourceFiles(root)

  it('finds the sources', () => {
    expect(files.length).toBeGreaterThan(10)
  })

  it('keeps the engine free of everything but Node built-ins and itself', () => {
    const engine = join(root, 'engine')
    const offending: string[] = []
    for (const file of files.filter((f) => f.startsWith(engine))) {
      for (const specifier of importsOf(file)) {
        if (specifier.startsWith('node:')) continue
        if (specifier.startsWith('.') && resolveLocal(file, specifier).startsWith(engine)) continue
        // The one exception: run from TypeScript sources, a worker thread loads tsx's hooks first.
        if (specifier === 'tsx/esm/api' && file.endsWith('thread-pool.ts')) continue
        offending.push(`${relative(root, file)} imports ${specifier}`)
      }
    }
    expect(offending).toEqual([])
  })

  it('has no import cycles', () => {
    const graph = new Map<string, string[]>()
    for (const file of files) {
      graph.set(
        file,
        importsOf(file)
          .filter((s) => s.startsWith('.'))
          .map((s) => resolveLocal(file, s)),
      )
    }
    const state = new Map<string, 'visiting' | 'done'>()
    const cycles: string[] = []
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === 'done') return
      if (state.get(file) === 'visiting') {
        cycles.push(
          [...path.slice(path.indexOf(file)), file].map((f) => relative(root, f)).join(' -> '),
        )
        return
      }
      state.set(file, 'visiting')
      for (const next of graph.get(file) ?? []) visit(next, [...path, file])
      state.set(file, 'done')
    }
    for (const file of graph.keys()) visit(file, [])
    expect(cycles).toEqual([])
  })

  it('keeps @aws-sdk/* in storage/s3/ and @tus/s3-store in http/tus/s3-tus-store.ts', () => {
    const s3Storage = join(root, 'storage', 's3')
    const tusS3 = join(root, 'http', 'tus', 's3-tus-store.ts')
    const offending: string[] = []
    for (const file of files) {
      for (const specifier of importsOf(file)) {
        if (specifier.startsWith('@aws-sdk/') && !file.startsWith(s3Storage)) {
          offending.push(`${relative(root, file)} imports ${specifier}`)
        }
        if (specifier === '@tus/s3-store' && file !== tusS3) {
          offending.push(`${relative(root, file)} imports ${specifier}`)
        }
      }
    }
    expect(offending).toEqual([])
  })

  it('loads the S3 modules only with import() from outside them', () => {
    const isS3Module = (file: string) =>
      file.startsWith(join(root, 'storage', 's3')) ||
      file === join(root, 'http', 'tus', 's3-tus-store.ts')
    const offending: string[] = []
    for (const file of files.filter((f) => !isS3Module(f))) {
      for (const specifier of staticImportsOf(file)) {
        if (specifier.startsWith('.') && isS3Module(resolveLocal(file, specifier))) {
          offending.push(`${relative(root, file)} statically imports ${specifier}`)
        }
      }
    }
    expect(offending).toEqual([])
  })
})
