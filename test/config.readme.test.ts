/** The README documents every environment variable the service reads, with its default. */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ENV_VARIABLES } from '../src/config.js'

const readme = readFileSync(resolve(import.meta.dirname, '../README.md'), 'utf8')

describe('README configuration table', () => {
  it.each(ENV_VARIABLES.map((v) => [v.name, v.default]))(
    'lists %s with its default',
    (name, value) => {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${name}\` |`))
      expect(row, `no table row for ${name}`).toBeDefined()
      expect(row).toContain(value.replace(/\|/g, '\\|'))
    },
  )

  it('lists no variable the service does not read', () => {
    const documented = [...readme.matchAll(/^\| `((?:TALLY_|REDIS_)[A-Z0-9_]*)` \|/gm)].map(
      (m) => m[1],
    )
    expect(documented.sort()).toEqual(ENV_VARIABLES.map((v) => v.name).sort())
  })
})
