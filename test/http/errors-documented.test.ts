/**
 * Every error code the API can answer with is in README.md's `## HTTP API` error table with its
 * status, and the table lists nothing the API cannot answer (Fastify's own errors.md check,
 * applied to our catalogue). Codes a failed job carries in its view are documented too.
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FILE_ERROR_CODES, ROW_ERROR_CODES } from '../../src/engine/index.js'
import { httpStatusOf } from '../../src/errors.js'
import {
  API_ERROR_CODES,
  type ApiErrorCode,
  apiErrorEntry,
  ENGINE_CODES_IN_API,
} from '../../src/http/errors/api-errors.js'
import { toProblem } from '../../src/http/errors/problem.js'

const readme = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8')
/** Without fenced code blocks, whose `# comments` would look like headings. */
const prose = readme.replace(/```[\s\S]*?```/g, '')

function section(text: string, heading: string): string {
  const start = text.indexOf(`\n${heading}\n`)
  expect(start, `README has "${heading}"`).toBeGreaterThan(-1)
  const level = heading.split(' ')[0]!
  const rest = text.slice(start + heading.length + 2)
  const end = rest.search(new RegExp(`\\n#{1,${level.length}} `))
  return end === -1 ? rest : rest.slice(0, end)
}

/** code -> documented status, from the rows of the error table. */
function documentedCodes(): Map<string, number> {
  const table = section(section(prose, '## HTTP API'), '### HTTP errors')
  const codes = new Map<string, number>()
  for (const line of table.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim())
    const status = Number(cells[2])
    if (!line.startsWith('| `') || !Number.isInteger(status)) continue
    for (const match of cells[1]!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)) codes.set(match[1]!, status)
  }
  return codes
}

function statusOf(code: string): number {
  return (ENGINE_CODES_IN_API as readonly string[]).includes(code)
    ? httpStatusOf(code)
    : apiErrorEntry(code as ApiErrorCode).status
}

describe('error codes in the README', () => {
  const documented = documentedCodes()

  it('lists every code the API answers with, with its status', () => {
    for (const code of API_ERROR_CODES) {
      expect(documented.has(code), `${code} missing from README ## HTTP API`).toBe(true)
      expect(documented.get(code), `status of ${code}`).toBe(statusOf(code))
    }
  })

  it('lists no code the API does not answer with', () => {
    for (const code of documented.keys()) {
      expect(API_ERROR_CODES, `${code} is documented but not in the catalogue`).toContain(code)
    }
  })

  it('documents the codes a failed job carries in its view', () => {
    for (const code of [...ROW_ERROR_CODES, ...FILE_ERROR_CODES, 'JOB_INPUT_MISSING', 'INTERNAL']) {
      expect(readme, code).toContain(`\`${code}\``)
    }
  })

  it('maps the framework’s own client errors to documented codes', () => {
    for (const status of [400, 401, 404, 405, 406, 413, 415, 416, 429, 431]) {
      const { body } = toProblem({ statusCode: status, message: 'x' })
      expect(API_ERROR_CODES, `status ${status} -> ${body.code}`).toContain(body.code)
    }
    expect(toProblem(new Error('secret path /etc/x')).body).toMatchObject({
      code: 'INTERNAL',
      status: 500,
      detail: expect.not.stringContaining('secret'),
    })
  })
})
