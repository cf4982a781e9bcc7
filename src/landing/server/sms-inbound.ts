/**
 * POST /sms/inbound: Twilio's Messaging webhook (an SMS sent to one of the
 * operator's numbers), answered with TwiML. Registered only when an auth
 * token is configured; a request whose X-Twilio-Signature does not verify
 * gets 403 and changes nothing. Nothing of the message (number, body) is
 * ever logged: the request line says `POST /sms/inbound <status>`.
 */
import type { FastifyInstance } from 'fastify';
import { normalisePhone } from '../../consent/phone.js';
import { receiveSms } from '../../consent/sms-inbound.js';
import type { FormParams } from '../twilio.js';
import { verifyTwilioSignature } from '../twilio.js';
import { twiml } from '../twiml.js';
import { first, type ServerContext } from './context.js';

export const SMS_INBOUND_PATH = '/sms/inbound';

const sendTwiml = (reply: { code(n: number): { type(t: string): { send(b: string): unknown } } }, status: number, body: string) =>
  reply.code(status).type('text/xml; charset=utf-8').send(body);

export function registerSmsRoute(app: FastifyInstance, ctx: ServerContext, authToken: string): void {
  // One webhook call at a time in this process: each is planned against what the one before wrote.
  let queue: Promise<unknown> = Promise.resolve();
  const serialised = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => {});
    return run;
  };

  app.post(SMS_INBOUND_PATH, async (req, reply) => {
    const params = (req.body ?? {}) as FormParams;
    // The URL Twilio called: the public base URL, then the path and query string as they came.
    const url = ctx.baseUrl + req.url;
    if (!verifyTwilioSignature(authToken, req.headers['x-twilio-signature'], url, params)) {
      return reply.code(403).type('text/plain; charset=utf-8').send('Forbidden: X-Twilio-Signature does not verify.\n');
    }
    const text = (name: string) => {
      const v = first(params[name]);
      return typeof v === 'string' ? v : undefined;
    };
    const from = normalisePhone(text('From') ?? '');
    // A sender that is not a phone number (a WhatsApp or RCS address, a short code…) is no SMS consent of ours.
    if (!('phone' in from)) return sendTwiml(reply, 200, twiml(null));
    const result = await serialised(() =>
      receiveSms(
        ctx.store,
        [{ from: from.phone, body: text('Body') ?? '', to: text('To') || null, messageId: text('MessageSid') || null, provider: 'twilio', receivedAt: ctx.now().toISOString() }],
        { now: ctx.now() },
      ),
    );
    return sendTwiml(reply, 200, twiml(result.results[0]!.message.reply));
  });
}
