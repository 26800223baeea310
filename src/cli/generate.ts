import type { Command } from 'commander'

export function registerGenerate(program: Command): void {
  program.command('generate').description('Generate a song-plays CSV (not written yet)')
}
