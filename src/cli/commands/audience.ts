import type { Command } from 'commander';
import type { Act } from '../run.js';

export function registerAudience(program: Command, act: Act): void {
  const audience = program.command('audience').description('send manifests: prove who was in an exported audience, and verify one against the ledger');
  audience
    .command('prove')
    .description("whether a profile was in a manifest's audience, with the events that decided it and its Merkle proof path; exit 6 if the manifest's head is not in the chain")
    .argument('<manifest>', 'the manifest written by `profile export --reachable <channel> --manifest <file>`')
    .argument('<ref>', 'profile id or email')
    .option('--json', 'print as JSON')
    .action(act(async (ctx, [manifest, ref], o) => (await import('./audience/prove.js')).run(ctx, manifest!, ref!, o)));
  audience
    .command('verify')
    .description("recompute the audience at the manifest's ledger head and check its count and Merkle root (and a file's rows); exit 6 on any mismatch")
    .argument('<manifest>', 'the manifest written by `profile export --reachable <channel> --manifest <file>`')
    .option('--file <export>', 'the exported file (CSV or JSON lines): its rows must be exactly the audience')
    .option('--json', 'print as JSON')
    .action(act(async (ctx, [manifest], o) => (await import('./audience/verify.js')).run(ctx, manifest!, o)));
}
