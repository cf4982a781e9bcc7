import { resolve } from 'node:path';
import { CHANNELS, CONTACT_CHANNELS, isChannel, type Channel } from '../consent/channels.js';
import { invalid } from '../consent/errors.js';
import { createsStore } from './commands/index.js';
import { reasonCarriesAddress, type ChangeContext } from '../consent/ledger.js';
import type { LandingStore } from '../landing/repository.js';
import { isPostgresLocation } from '../store/location.js';
import type { CliDeps } from './deps.js';
import { inquirerPrompter, type Prompter } from './prompter.js';
import { makeStyle, renderTable, wantsColor, type Style } from './output.js';

export interface GlobalOptions {
  db?: string;
  color: boolean;
  debug?: boolean;
  actor?: string;
}

/** What every command gets: the deps, the global options, and helpers built on them. */
export class CommandContext {
  private storePromise?: Promise<LandingStore>;

  constructor(
    readonly deps: CliDeps,
    readonly globals: GlobalOptions,
    /** `profile add`, `ledger verify`, …: decides whether a missing store may be created. */
    readonly commandPath = '',
  ) {}

  get env() {
    return this.deps.env;
  }

  /** `--db`, else CONSENT_DB, else ./consent.db; a PostgreSQL URL is taken as is. */
  get dbPath(): string {
    const location = this.globals.db ?? this.deps.env.CONSENT_DB ?? 'consent.db';
    return isPostgresLocation(location) ? location : resolve(this.deps.cwd, location);
  }

  busyTimeoutMs(): number | undefined {
    const raw = this.deps.env.CONSENT_BUSY_TIMEOUT_MS;
    if (raw === undefined || raw === '') return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw invalid(`CONSENT_BUSY_TIMEOUT_MS must be a whole number of milliseconds, not "${raw}".`);
    return n;
  }

  /**
   * The store. Only the commands that can start one (see `createsStore`)
   * create it when there is none, and say so once on stderr; every other
   * command exits 3 naming the path, so that a mistyped --db never looks like
   * an empty store.
   */
  store(hooks: { onCreate?: (location: string) => void } = {}): Promise<LandingStore> {
    if (!this.storePromise) {
      const open =
        this.deps.openStore ??
        (async (loc, o) => {
          const stores = await import('../store/index.js');
          (await import('./run.js')).registerStoreErrors(stores.translateStoreError);
          return stores.openStore(loc, o);
        });
      this.storePromise = open(this.dbPath, {
        busyTimeoutMs: this.busyTimeoutMs(),
        create: createsStore(this.commandPath),
        now: () => this.nowIso(),
        onCreate: hooks.onCreate ?? ((location) => this.notice(`Created a new consent store at ${location}.`)),
      });
    }
    return this.storePromise;
  }

  async close(): Promise<void> {
    if (this.storePromise) {
      const store = await this.storePromise.catch(() => undefined);
      await store?.close();
    }
  }

  nowIso(): string {
    return this.deps.now().toISOString();
  }

  /** `--actor`, else CONSENT_ACTOR, else the OS user. A blank one given is refused, never recorded as spaces. */
  actor(): string {
    const given = this.globals.actor ?? this.deps.env.CONSENT_ACTOR;
    if (given !== undefined) {
      if (given.trim() === '') {
        const from = this.globals.actor !== undefined ? '--actor' : 'CONSENT_ACTOR';
        throw invalid(`${from} is blank: the ledger records who made each change.`, from === '--actor' ? 'Give a name: --actor <name>.' : 'Give a name (CONSENT_ACTOR=<name> or --actor <name>), or unset CONSENT_ACTOR to record the OS user.');
      }
      return given.trim();
    }
    return this.deps.user();
  }

  change(source: string, reason?: string | null, evidence?: Record<string, unknown> | null): ChangeContext {
    if (reason && reasonCarriesAddress(reason)) {
      throw invalid(
        'The --reason holds an email address or a phone number: the ledger keeps reasons forever and never holds an address in clear.',
        'Give a reason without it, e.g. a ticket number (the profile is already named by the command).',
      );
    }
    return { source, actor: this.actor(), reason: reason ?? null, evidence: evidence ?? null, occurredAt: this.nowIso() };
  }

  get isInteractive(): boolean {
    return this.deps.stdin.isTTY === true;
  }

  /** The prompter, or a usage error naming the flag to pass when stdin is not a terminal. */
  prompter(missing: string): Prompter {
    if (!this.isInteractive) {
      throw invalid(`Standard input is not a terminal, so consent will not prompt: ${missing}.`);
    }
    return this.deps.prompter ?? inquirerPrompter(this.deps.stdin.stream, this.deps.stderr);
  }

  style(stream: 'stdout' | 'stderr' = 'stdout'): Promise<Style> {
    return makeStyle(wantsColor(this.deps[stream], this.deps.env, this.globals.color));
  }

  print(text: string): void {
    this.deps.stdout.write(text.endsWith('\n') ? text : text + '\n');
  }

  json(value: unknown): void {
    this.deps.stdout.write(JSON.stringify(value, null, 2) + '\n');
  }

  notice(text: string): void {
    this.deps.stderr.write(text.endsWith('\n') ? text : text + '\n');
  }

  async table(head: string[], rows: string[][]): Promise<void> {
    this.deps.stdout.write(await renderTable(this.deps.stdout, head, rows));
  }

  async readInput(path: string): Promise<string> {
    if (path === '-') {
      const chunks: Buffer[] = [];
      for await (const c of this.deps.stdin.stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
      return Buffer.concat(chunks).toString('utf8');
    }
    const { readFile } = await import('node:fs/promises');
    try {
      return await readFile(resolve(this.deps.cwd, path), 'utf8');
    } catch (e) {
      const { notFound } = await import('../consent/errors.js');
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`No file ${path}.`);
      throw e;
    }
  }
}

/** Parses `a,b` into channels; an unknown one is a usage error listing the valid ones. */
export function parseChannels(raw: string, allowed: readonly string[] = CHANNELS): Channel[] {
  const list = raw
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  if (list.length === 0) throw invalid('No channel given.', `Valid channels: ${allowed.join(', ')}.`);
  for (const c of list) {
    if (!isChannel(c) || !allowed.includes(c)) {
      throw invalid(`Unknown channel "${c}".`, `Valid channels: ${allowed.join(', ')}.`);
    }
  }
  return [...new Set(list)] as Channel[];
}

export { CONTACT_CHANNELS };
