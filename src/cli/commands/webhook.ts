import type { Command } from 'commander';
import { CHANNELS } from '../../consent/channels.js';
import { WEBHOOK_EVENTS } from '../../consent/webhooks.js';
import type { Act } from '../run.js';

const run = () => import('./webhook/run.js');

export function registerWebhook(program: Command, act: Act): void {
  const webhook = program
    .command('webhook')
    .description('outbound webhooks: every consent change POSTed, signed, to a receiver (from the ledger, at least once, in order per profile)');

  webhook
    .command('add')
    .description('add a receiver; its secret is generated (unless --secret-file) and shown once, never again')
    .argument('<url>', 'https://… (plain http only to 127.0.0.1 or localhost, unless --allow-http)')
    .option('--events <events>', `only these ledger actions: ${WEBHOOK_EVENTS.join(', ')} (default: all)`)
    .option('--channel <channels>', `only events on these channels (an event on all goes to every channel): ${CHANNELS.join(', ')} (default: all)`)
    .option('--secret-file <file>', 'sign with the secret in this file (its first line) instead of a generated one')
    .option('--allow-http', 'accept a plain http URL to another host than 127.0.0.1/localhost')
    .option('--allow-private', 'accept a host on a private, loopback, link-local, ULA or CGNAT address')
    .option('--from-start', 'also deliver every event already in the ledger (default: only changes from now on)')
    .option('--json', 'print the webhook (and the generated secret) as JSON')
    .action(act(async (ctx, [url], o) => (await run()).add(ctx, url!, o)));

  webhook
    .command('list')
    .description('list the webhooks (never their secrets): url, filters, since when; see `webhook failures` for deliveries given up')
    .option('--json', 'print as JSON')
    .action(act(async (ctx, _a, o) => (await run()).list(ctx, o)));

  webhook
    .command('remove')
    .description('remove a webhook: nothing more is sent to it (its pending deliveries included)')
    .argument('<id>', 'the webhook id')
    .option('--json', 'print the removed webhook as JSON')
    .action(act(async (ctx, [id], o) => (await run()).remove(ctx, id!, o)));

  webhook
    .command('test')
    .description('send a signed webhook.test delivery now and print the answer (exit 5 when the receiver does not take it)')
    .argument('<id>', 'the webhook id')
    .option('--json', 'print the result as JSON')
    .action(act(async (ctx, [id], o) => (await run()).test(ctx, id!, o)));

  webhook
    .command('failures')
    .description('list the deliveries given up on (after 24 hours of retries)')
    .option('--json', 'print as JSON')
    .action(act(async (ctx, _a, o) => (await run()).failures(ctx, o)));

  webhook
    .command('retry')
    .description('send a failed delivery again (same id; 24 more hours of retries)')
    .argument('<delivery>', 'the delivery: its number or its id (as in webhook failures)')
    .option('--json', 'print the delivery as JSON')
    .action(act(async (ctx, [ref], o) => (await run()).retry(ctx, ref!, o)));

  webhook
    .command('deliver')
    .description('deliver the webhooks (for deployments without landing serve, which delivers itself): until Ctrl-C, or --once')
    .option('--once', 'send what is due now, then exit')
    .option('--json', 'print the counts as JSON at the end')
    .action(act(async (ctx, _a, o) => (await run()).deliver(ctx, o)));
}
