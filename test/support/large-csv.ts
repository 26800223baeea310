/**
 * A deterministic multi-megabyte CSV of song plays for the file API: many distinct groups (past
 * the point where the engine stages rows), repeated groups, and, all through the file, quoted
 * songs holding line ends, doubled quotes and text that looks like rows — so that wherever the
 * file is cut into byte ranges, a cut is likely to land inside a quoted field. Also CRLF rows,
 * blank lines, non-ASCII songs, counts near 2^53 and of 30 digits, and some bad rows.
 */
import { seededRandom } from './chunks.js'

export interface LargeCsvOptions {
  /** Share of rows that are plain and of a random song among `distinctSongs`. */
  plainShare?: number
  distinctSongs?: number
}

export function largeCsv(
  seed: number,
  targetBytes: number,
  { plainShare = 0.55, distinctSongs = 200_000 }: LargeCsvOptions = {},
): Buffer {
  const random = seededRandom(seed)
  const pick = (n: number) => Math.floor(random() * n)
  const day = () => `2020-01-${String(1 + pick(28)).padStart(2, '0')}`
  const parts: string[] = ['Extra,Song,Date,Number of Plays\n']
  let size = parts[0]!.length
  while (size < targetBytes) {
    let row: string
    // The other kinds of rows, in fixed proportions among themselves.
    const r = random() < plainShare ? -1 : 0.55 + random() * 0.45
    if (r < 0) {
      row = `x,song${pick(distinctSongs)},${day()},${pick(1000)}\n`
    } else if (r < 0.8) {
      // Quoted, multi-line, with a fake row and quotes inside: a cut here misleads a parser
      // that guesses row starts.
      const k = pick(50)
      row = `"a\nb","Line ${k}\nFake,2020-01-01,1000\n""quoted"", ${'\n'.repeat(k % 3)}end",${day()},${pick(100)}\r\n`
    } else if (r < 0.85) {
      row = `,"Ünïcödé ${pick(20)} 😀",${day()},${pick(10)}\n`
    } else if (r < 0.9) {
      row = `,big${pick(5)},2020-02-29,${9007199254740990 + pick(5)}\n`
    } else if (r < 0.92) {
      row = `,huge${pick(3)},2020-02-28,${'9'.repeat(30)}\n`
    } else if (r < 0.94) {
      row = ['\n', '  \n', '\r\n', '\t\r\n'][pick(4)]!
    } else if (r < 0.97) {
      row = [
        `,bad date,2021-02-29,1\n`,
        `,bad number,2020-01-01,-1\n`,
        `,,2020-01-01,1\n`,
        `,field count,2020-01-01\n`,
        `,"bad"quote,2020-01-01,1\n`,
        `,lone\rcr,2020-01-01,1\n`,
        `,"multi\nline bad",2020-01-01,1.5\n`,
      ][pick(7)]!
    } else {
      row = `"",Umbrella,${day()},${pick(1000)}\r\n`
    }
    parts.push(row)
    size += Buffer.byteLength(row)
  }
  return Buffer.from(parts.join(''))
}
