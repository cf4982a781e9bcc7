import type { Command } from 'commander';
import { ConsentError, invalid } from '../../consent/errors.js';
import type { VerifyProgress } from '../../consent/ledger.js';
import type { CommandContext } from '../context.js';
import type { Act } from '../run.js';

export function registerLedger(program: Command, act: Act): void {
  const ledger = program.command('ledger').description('the append-only, hash-chained record of every consent change');
  ledger
    .command('verify')
    .description('check the hash chain and that every profile\'s flags and subscriptions are what the ledger says; exit 6 naming the first failure')
    .option('--json', 'print the result as JSON')
    .option('--digest <files...>', 'also check that each saved digest (`ledger digest`) names a block of this chain, with its hash and event count: exit 6 naming the first that does not')
    .option('--public-key <pem>', 'the ed25519 public key the digests were signed with: each must carry a valid signature of it')
    .action(
      act(async (ctx, _args, o) => {
        if (o.publicKey && !o.digest) throw invalid('--public-key checks digests: give them with --digest <file…>.');
        const progress = ctx.deps.stderr.isTTY && !o.json ? progressLine(ctx) : undefined;
        let result;
        try {
          result = await (await ctx.store()).verifyLedger({ onProgress: progress?.update });
        } finally {
          progress?.done();
        }
        if (!result.ok) {
          if ('disagreement' in result) {
            throw new ConsentError(
              'integrity',
              `The ledger is intact but does not vouch for the state: ${result.problem}.`,
              `The chain itself is intact (${result.blocks} blocks, ${result.events} events): the profile or subscription rows were changed behind the tool's back. Restore from a backup and investigate who wrote to the store.`,
              { details: result },
            );
          }
          throw new ConsentError(
            'integrity',
            `The ledger is broken at event ${result.brokenEventId ?? '?'}: ${result.problem}.`,
            `${result.blocks} blocks (${result.events} events) before it verified. Restore from a backup and investigate who wrote to the store.`,
            { details: result },
          );
        }
        if (o.digest) {
          const { checkDigests } = await import('./ledger/digest.js');
          const digests = await checkDigests(ctx, await ctx.store(), o.digest as string[], o.publicKey as string | undefined);
          const unchecked = digests.filter((d) => d.signature === 'unchecked');
          if (unchecked.length > 0) {
            ctx.notice(`Warning: ${unchecked.map((d) => d.file).join(', ')} ${unchecked.length === 1 ? 'is' : 'are'} signed, but no --public-key was given: the signature was not checked.`);
          }
          if (o.json) return ctx.json({ ...result, digests });
          ctx.print(`Ledger intact: ${result.events} events in ${result.blocks} blocks, and every profile's state agrees with it. Head hash: ${result.head}`);
          for (const d of digests) {
            const sig = d.signature === 'valid' ? 'signature valid' : d.signature === 'unchecked' ? 'signature NOT checked (no --public-key)' : 'unsigned';
            ctx.print(`Digest ${d.file} holds: block ${d.blockId} (${d.events} events, digest of ${d.at}) is in the chain with its hash; ${sig}.`);
          }
          return;
        }
        if (o.json) return ctx.json(result);
        ctx.print(`Ledger intact: ${result.events} events in ${result.blocks} blocks, and every profile's state agrees with it. Head hash: ${result.head}`);
      }),
    );
  ledger
    .command('digest')
    .description('print the digest of the chain\'s head (block id, hash, event count, time), to keep outside the store; optionally signed')
    .option('--sign-key <pem>', 'sign it with this ed25519 private key (PEM)')
    .option('--out <file>', 'write it to this file (atomically) instead of stdout')
    .option('--json', 'print it as JSON (it is JSON anyway; with --out, also on stdout)')
    .action(act(async (ctx, _args, o) => (await import('./ledger/digest.js')).runDigest(ctx, o as { json?: boolean; signKey?: string; out?: string })));
  ledger
    .command('keygen')
    .description('make an ed25519 key pair for signing digests: <dir>/ledger-digest-key.pem (private, mode 600) and <dir>/ledger-digest-key.pub.pem')
    .requiredOption('--out <dir>', 'the folder to write the two files to (never overwritten)')
    .option('--json', 'print the paths and the fingerprint as JSON')
    .action(act(async (ctx, _args, o) => (await import('./ledger/digest.js')).runKeygen(ctx, o as { out: string; json?: boolean })));
}

/** "Verifying chain… 400,000 / 1,300,000 events", redrawn in place on stderr; only on a terminal. */
function progressLine(ctx: CommandContext) {
  let drawn = false;
  const n = (x: number) => x.toLocaleString('en');
  return {
    update(p: VerifyProgress) {
      const line =
        p.phase === 'chain'
          ? `Verifying chain… ${n(p.events)} / ${n(p.total)} events`
          : p.phase === 'replay'
            ? `Replaying ledger… ${n(p.events)} / ${n(p.total)} events`
            : `Checking state of profiles… ${n(p.profiles)} / ${n(p.total)}`;
      ctx.deps.stderr.write(`\r${line}\x1b[K`);
      drawn = true;
    },
    done() {
      if (drawn) ctx.deps.stderr.write('\r\x1b[K');
    },
  };
}
