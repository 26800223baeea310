/**
 * A strict RFC 4180 reader for the CSV the engine writes (output and rejects files): LF line
 * ends, quoted fields with `""`, nothing trimmed. Used to read columns whose text the tests do
 * not fix (a reject's reason) while checking the others exactly.
 */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let p = 0
  let quoted = false
  while (p < text.length) {
    const c = text[p]!
    if (quoted) {
      if (c === '"') {
        if (text[p + 1] === '"') {
          field += '"'
          p += 2
          continue
        }
        quoted = false
        p++
        if (p < text.length && text[p] !== ',' && text[p] !== '\n') {
          throw new Error(`parseCsv: text after a closing quote at ${p}`)
        }
        continue
      }
      field += c
      p++
      continue
    }
    if (c === '"' && field === '') {
      quoted = true
      p++
    } else if (c === ',') {
      row.push(field)
      field = ''
      p++
    } else if (c === '\n') {
      row.push(field)
      rows.push(row)
      row = []
      field = ''
      p++
    } else {
      if (c === '"' || c === '\r')
        throw new Error(`parseCsv: unquoted ${JSON.stringify(c)} at ${p}`)
      field += c
      p++
    }
  }
  if (quoted) throw new Error('parseCsv: unterminated quote')
  if (field !== '' || row.length > 0) throw new Error('parseCsv: the last row has no LF')
  return rows
}
