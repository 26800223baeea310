import type { Command } from 'commander'

export function registerAggregate(program: Command): void {
  program.command('aggregate').description('Aggregate a song-plays CSV (not written yet)')
}
