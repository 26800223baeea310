/**
 * One timed DuckDB run (the reference engine) in its own process. Prints one line of JSON on
 * stdout: `{ seconds, maxRssMiB, baselineRssMiB, summary: { groups, version } }`.
 *
 *   node --import tsx bench/run-duckdb.ts --input IN --output OUT [--threads N] [--temp-dir DIR]
 *
 * The CSV is read the way tally reads it: header row, `,` delimiter, `"` quote and `"` escape
 * (RFC 4180 `""`), explicit column types so that no sniffing or type inference can change a
 * value, and Date parsed as a real date (tally validates dates too).
 */

import { parseArgs } from 'node:util'
import { DuckDBInstance, version } from '@duckdb/node-api'

const { values } = parseArgs({
  options: {
    input: { type: 'string' },
    output: { type: 'string' },
    threads: { type: 'string', default: '2' },
    'temp-dir': { type: 'string' },
  },
})
if (values.input === undefined || values.output === undefined) {
  throw new Error('usage: run-duckdb.ts --input IN --output OUT [--threads N] [--temp-dir DIR]')
}

const sqlString = (text: string) => `'${text.replaceAll("'", "''")}'`
const threads = Number(values.threads)
if (!Number.isInteger(threads) || threads < 1) throw new Error(`bad --threads ${values.threads}`)

const baselineRssMiB = process.memoryUsage().rss / 2 ** 20
const instance = await DuckDBInstance.create(':memory:')
const connection = await instance.connect()
await connection.run(`SET threads TO ${threads}`)
// Spill files would otherwise go to ./.tmp, inside the repository.
if (values['temp-dir'] !== undefined) {
  await connection.run(`SET temp_directory = ${sqlString(values['temp-dir'])}`)
}

const read = `read_csv(${sqlString(values.input)},
  header = true, auto_detect = false, delim = ',', quote = '"', escape = '"',
  dateformat = '%Y-%m-%d',
  columns = {'Song': 'VARCHAR', 'Date': 'DATE', 'Number of Plays': 'BIGINT'})`
const sql = `COPY (
  SELECT Song, Date, SUM("Number of Plays") AS "Total Number of Plays for Date"
  FROM ${read}
  GROUP BY ALL
) TO ${sqlString(values.output)} (FORMAT CSV, HEADER, DELIMITER ',')`

const started = performance.now()
const result = await connection.run(sql)
const seconds = (performance.now() - started) / 1000
const groups = Number(result.rowsChanged)
connection.closeSync()
instance.closeSync()
const maxRssMiB = process.resourceUsage().maxRSS / 1024
const summary = { groups, version: version() }
process.stdout.write(`${JSON.stringify({ seconds, maxRssMiB, baselineRssMiB, summary })}\n`)
