import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { htmlProblems } from './helpers/html.js';
import { runCli, runJson, scriptedPrompter, tempDb, tempDir, BACKENDS, tempStore } from './helpers/run-cli.js';

describe.each(BACKENDS)('on %s', (backend) => {

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'landing-page.json');

async function withProfiles(n = 3) {
  const db = (await tempStore(backend));
  for (let i = 1; i <= n; i++) await runJson(db, ['profile', 'add', '--email', `p${i}@example.com`, '--first-name', `P${i}`, '--json']);
  return db;
}

const cli = (db: string, argv: string[], o = {}) => runCli(['--db', db, ...argv], o);

describe('landing create', () => {
  it('creates from flags; the page is a draft', async () => {
    const db = (await tempStore(backend));
    const page = await runJson(db, ['landing', 'create', 'news', '--type', 'acquisition', '--title', 'News', '--channels', 'sms,email', '--lang', 'fr', '--wording', 'optout', '--json']);
    expect(page).toMatchObject({ slug: 'news', type: 'acquisition', title: 'News', status: 'draft', version: null, published: null });
    expect(page.draft).toEqual({ slug: 'news', type: 'acquisition', title: 'News', intro: null, lang: 'fr', channels: ['sms', 'email'], services: [], wording: 'optout', confirmation: null, askReason: false });
    expect(await runJson(db, ['landing', 'list', '--json'])).toEqual([{ slug: 'news', type: 'acquisition', title: 'News', status: 'draft', version: null }]);
  });

  it('creates from the documented JSON file, flags overriding it', async () => {
    const db = (await tempStore(backend));
    const page = await runJson(db, ['landing', 'create', 'touch', '--from', FIXTURE, '--lang', 'fr', '--json']);
    const json = JSON.parse(readFileSync(FIXTURE, 'utf8'));
    expect(page.draft).toEqual({ ...json, slug: 'touch', lang: 'fr', askReason: false });
    const fromStdin = await runJson(db, ['landing', 'create', 'stop', '--from', '-', '--json'], { stdin: '{"type":"blocklist","title":"Stop"}' });
    expect(fromStdin.draft).toMatchObject({ type: 'blocklist', channels: [], lang: 'en', wording: 'consent' });
  });

  it('a blocklist page needs no channels', async () => {
    const db = (await tempStore(backend));
    expect((await cli(db, ['landing', 'create', 'stop', '--type', 'blocklist', '--title', 'Stop'])).code).toBe(0);
  });

  it('bad input: exit 2 naming the field, nothing written', async () => {
    const db = (await tempStore(backend));
    const cases: [string[], RegExp][] = [
      [['../x', '--type', 'blocklist', '--title', 'x'], /Invalid slug "\.\.\/x"/],
      [['Caps', '--type', 'blocklist', '--title', 'x'], /Invalid slug/],
      [['-x', '--type', 'blocklist', '--title', 'x'], /./],
      [['a'.repeat(65), '--type', 'blocklist', '--title', 'x'], /Invalid slug/],
      [['x', '--type', 'popup', '--title', 'x', '--channels', 'email'], /field type/],
      [['x', '--type', 'acquisition', '--title', 'x', '--channels', 'email,pigeon'], /Unknown channel "pigeon"/],
      [['x', '--type', 'acquisition', '--title', 'x', '--channels', 'all'], /Unknown channel "all"/],
      [['x', '--type', 'acquisition', '--title', 'x', '--channels', 'email', '--lang', 'EN!'], /field lang/],
      [['x', '--type', 'acquisition', '--title', 'x', '--channels', 'email', '--wording', 'maybe'], /field wording/],
      [['x', '--type', 'acquisition', '--title', '  ', '--channels', 'email'], /field title/],
      [['x', '--type', 'acquisition', '--title', 'x', '--channels', ''], /field channels/],
      [['x', '--type', 'blocklist', '--title', 'x', '--channels', 'email'], /field channels/],
      [['x', '--type', 'acquisition', '--title', 'x'.repeat(201), '--channels', 'email'], /field title/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(db, ['landing', 'create', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(message);
    }
    const dir = tempDir();
    const badJson = join(dir, 'bad.json');
    writeFileSync(badJson, '{"type":"blocklist","title":"x","colour":"red"}');
    expect((await cli(db, ['landing', 'create', 'x', '--from', badJson])).stderr).toMatch(/unknown field "colour"/);
    writeFileSync(badJson, '{"type":');
    expect((await cli(db, ['landing', 'create', 'x', '--from', badJson])).code).toBe(2);
    writeFileSync(badJson, '{"slug":"other","type":"blocklist","title":"x"}');
    expect((await cli(db, ['landing', 'create', 'x', '--from', badJson])).stderr).toMatch(/field slug/);
    // Nothing written: not even an empty store.
    expect(existsSync(db)).toBe(false);
  });

  it('an existing slug: exit 4', async () => {
    const db = (await tempStore(backend));
    await cli(db, ['landing', 'create', 'x', '--type', 'blocklist', '--title', 'x']);
    const r = await cli(db, ['landing', 'create', 'x', '--type', 'blocklist', '--title', 'y']);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('already exists');
  });

  it('stdin not a terminal: missing options exit 2 at once, naming them all, no prompt', async () => {
    const db = (await tempStore(backend));
    const prompter = scriptedPrompter([]);
    const r = await cli(db, ['landing', 'create', 'x'], { prompter });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--type, --title, --channels/);
    expect(prompter.asked).toEqual([]);
    const r2 = await cli(db, ['landing', 'create', 'x', '--type', 'acquisition', '--title', 'T'], { prompter });
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('--channels');
    expect(r2.stderr).not.toContain('--title');
  });

  it('on a terminal, missing options are asked for: type, title, channels as a checkbox list', async () => {
    const db = (await tempStore(backend));
    const prompter = scriptedPrompter(['acquisition', 'Pick your channels', ['email', 'push']]);
    const r = await cli(db, ['landing', 'create', 'pick', '--lang', 'fr', '--json'], { tty: true, prompter });
    expect(r.code).toBe(0);
    expect(prompter.asked.map((a) => a.kind)).toEqual(['select', 'input', 'checkbox']);
    expect((prompter.asked[2]!.choices as { value: string; name: string }[]).map((c) => c.name)).toEqual([
      'Email', 'SMS', 'Téléphone', 'Courrier', 'Fax', 'Notification push',
    ]);
    expect(JSON.parse(r.stdout).draft).toMatchObject({ type: 'acquisition', title: 'Pick your channels', channels: ['email', 'push'], lang: 'fr' });
    // Only what is missing is asked; a blocklist page asks no channels.
    const p2 = scriptedPrompter(['Stop']);
    expect((await cli(db, ['landing', 'create', 'stop', '--type', 'blocklist'], { tty: true, prompter: p2 })).code).toBe(0);
    expect(p2.asked.map((a) => a.kind)).toEqual(['input']);
    // Answering no channel is refused like the flag.
    const p3 = scriptedPrompter(['acquisition', 'T', []]);
    const r3 = await cli(db, ['landing', 'create', 'none', '--json'], { tty: true, prompter: p3 });
    expect(r3.code).toBe(2);
    expect(r3.stderr).toMatch(/field channels/);
  });
});

describe('drafts and versions', () => {
  it('edit changes the draft only; publish freezes versions 1, 2; an unchanged draft makes no new version', async () => {
    const db = (await tempStore(backend));
    const out = tempDir();
    await cli(db, ['landing', 'create', 'news', '--type', 'acquisition', '--title', 'V1', '--channels', 'email']);
    const p1 = await runJson(db, ['landing', 'publish', 'news', '--out-dir', out, '--json']);
    expect(p1).toMatchObject({ slug: 'news', version: 1, created: true, file: join(out, 'news', 'index.html') });
    const edited = await runJson(db, ['landing', 'edit', 'news', '--title', 'V2', '--channels', 'email,sms', '--json']);
    expect(edited).toMatchObject({ status: 'published', version: 1, draftChanged: true });
    expect(edited.draft.title).toBe('V2');
    expect(edited.published.title).toBe('V1');
    // The static page is still version 1 until the next publish.
    expect(readFileSync(p1.file, 'utf8')).toContain('<h1>V1</h1>');
    const p2 = await runJson(db, ['landing', 'publish', 'news', '--out-dir', out, '--json']);
    expect(p2).toMatchObject({ version: 2, created: true });
    expect(readFileSync(p2.file, 'utf8')).toContain('<h1>V2</h1>');
    const again = await runJson(db, ['landing', 'publish', 'news', '--out-dir', out, '--json']);
    expect(again).toMatchObject({ version: 2, created: false });
    const show = await runJson(db, ['landing', 'show', 'news', '--json']);
    expect(show).toMatchObject({ status: 'published', version: 2, draftChanged: false });
    expect(await runJson(db, ['landing', 'list', '--json'])).toEqual([{ slug: 'news', type: 'acquisition', title: 'V2', status: 'published', version: 2 }]);
    // Render an old version.
    const r = await cli(db, ['landing', 'render', 'news', '--page-version', '1']);
    expect(r.stdout).toContain('<h1>V1</h1>');
    expect(r.stdout).toContain('name="v" value="1"');
    expect((await cli(db, ['landing', 'render', 'news', '--page-version', '3'])).code).toBe(3);
  });

  it('edit: --intro "" clears it; switching to blocklist drops the channels; --from replaces the definition', async () => {
    const db = (await tempStore(backend));
    await cli(db, ['landing', 'create', 'p', '--type', 'acquisition', '--title', 'T', '--intro', 'hi', '--channels', 'email']);
    expect((await runJson(db, ['landing', 'edit', 'p', '--intro', '', '--json'])).draft.intro).toBeNull();
    expect((await runJson(db, ['landing', 'edit', 'p', '--type', 'blocklist', '--json'])).draft).toMatchObject({ type: 'blocklist', channels: [] });
    expect((await runJson(db, ['landing', 'edit', 'p', '--from', FIXTURE, '--json'])).draft).toMatchObject({ type: 'acquisition', channels: ['email', 'sms', 'postal'] });
    expect((await cli(db, ['landing', 'edit', 'p'])).code).toBe(2);
    expect((await cli(db, ['landing', 'edit', 'nope', '--title', 'x'])).code).toBe(3);
    expect((await cli(db, ['landing', 'edit', 'p', '--lang', 'xx'])).code).toBe(2);
    expect((await runJson(db, ['landing', 'show', 'p', '--json'])).draft.lang).toBe('en');
  });

  it('show and list for people; unknown page exit 3', async () => {
    const db = (await tempStore(backend));
    expect((await cli(db, ['store', 'init'])).code).toBe(0);
    expect((await cli(db, ['landing', 'list'])).stderr).toContain('No pages yet');
    await cli(db, ['landing', 'create', 'p', '--type', 'blocklist', '--title', 'Stop it']);
    const list = await cli(db, ['landing', 'list']);
    expect(list.stdout).toMatch(/^slug\ttype\ttitle\tstatus\tversion\np\tblocklist\tStop it\tdraft\t-\n$/);
    expect((await cli(db, ['landing', 'show', 'p'])).stdout).toContain('draft, never published');
    const missing = await cli(db, ['landing', 'show', 'q', '--json']);
    expect(missing.code).toBe(3);
    expect(missing.stdout).toBe('');
  });
});

describe('publish and render', () => {
  it('publishes a static page with no personal data, posting to the base URL', async () => {
    const db = await withProfiles(1);
    const out = tempDir();
    await cli(db, ['landing', 'create', 'stop', '--type', 'blocklist', '--title', 'Stop', '--lang', 'fr']);
    const r = await cli(db, ['landing', 'publish', 'stop', '--out-dir', out, '--base-url', 'https://p.example.com/x/']);
    expect(r.code).toBe(0);
    const doc = readFileSync(join(out, 'stop', 'index.html'), 'utf8');
    expect(await htmlProblems(doc)).toEqual([]);
    expect(doc).toContain('action="https://p.example.com/x/stop"');
    expect(doc).toContain('<html lang="fr">');
    expect(doc).not.toContain('p1@example.com');
    expect(doc).not.toContain('name="t"');
    // CONSENT_BASE_URL, else relative; a bad base URL is a usage error.
    await cli(db, ['landing', 'publish', 'stop', '--out-dir', out], { env: { CONSENT_BASE_URL: 'http://localhost:8080' } });
    expect(readFileSync(join(out, 'stop', 'index.html'), 'utf8')).toContain('action="http://localhost:8080/stop"');
    await cli(db, ['landing', 'publish', 'stop', '--out-dir', out]);
    expect(readFileSync(join(out, 'stop', 'index.html'), 'utf8')).toContain('action="/stop"');
    for (const bad of ['ftp://x', 'not a url', 'https://x.com/?q=1']) {
      expect((await cli(db, ['landing', 'publish', 'stop', '--out-dir', out, '--base-url', bad])).code).toBe(2);
    }
  });

  it('publish defaults to ./public and refuses an unknown page', async () => {
    const db = (await tempStore(backend));
    const cwd = tempDir();
    await cli(db, ['landing', 'create', 'p', '--type', 'blocklist', '--title', 'T']);
    expect((await cli(db, ['landing', 'publish', 'p'], { cwd })).code).toBe(0);
    expect(existsSync(join(cwd, 'public', 'p', 'index.html'))).toBe(true);
    expect((await cli(db, ['landing', 'publish', 'q'], { cwd })).code).toBe(3);
  });

  it("render --profile: that person's boxes and token (drafts too); --out writes a file", async () => {
    const db = await withProfiles(2);
    await cli(db, ['profile', 'optout', '2', '--channel', 'sms']);
    await cli(db, ['landing', 'create', 'news', '--type', 'acquisition', '--title', 'News', '--channels', 'email,sms']);
    const r = await cli(db, ['landing', 'render', 'news', '--profile', 'p2@example.com']);
    expect(r.code).toBe(0);
    expect(await htmlProblems(r.stdout)).toEqual([]);
    expect(r.stdout).toMatch(/data-channel="email" checked>/);
    expect(r.stdout).toMatch(/data-channel="sms">/);
    expect(r.stdout).toMatch(/<input type="hidden" name="t" value="[A-Za-z0-9_-]{66}">/);
    expect(r.stdout).toContain('Hello P2,');
    expect(r.stdout).not.toContain('p2@example.com');
    const generic = await cli(db, ['landing', 'render', 'news']);
    expect(generic.stdout).toContain('type="email"');
    expect(generic.stdout).not.toContain(' checked');
    const file = join(tempDir(), 'page.html');
    const toFile = await cli(db, ['landing', 'render', 'news', '--profile', '1', '--out', file]);
    expect(toFile.stdout).toBe('');
    expect(readFileSync(file, 'utf8')).toContain('Hello P1,');
    expect((await cli(db, ['landing', 'render', 'news', '--profile', '99'])).code).toBe(3);
    expect((await cli(db, ['landing', 'render', 'news', '--profile', '1', '--expires-in', '1d'])).code).toBe(2);
  });
});

describe('link and links', () => {
  async function published(type: 'acquisition' | 'blocklist' = 'blocklist') {
    const db = await withProfiles(3);
    await cli(db, ['profile', 'optout', '2', '--channel', 'email']);
    await cli(db, ['landing', 'create', 'p', '--type', type, '--title', 'T', ...(type === 'acquisition' ? ['--channels', 'email'] : [])]);
    await cli(db, ['landing', 'publish', 'p', '--out-dir', tempDir()]);
    return db;
  }

  it('link of an unpublished page: exit 4; of an unknown profile: exit 3', async () => {
    const db = await withProfiles(1);
    await cli(db, ['landing', 'create', 'draft', '--type', 'blocklist', '--title', 'T']);
    const r = await cli(db, ['landing', 'link', 'draft', '--profile', '1', '--json']);
    expect(r.code).toBe(4);
    expect(r.stdout).toBe('');
    expect((await cli(db, ['landing', 'link', 'nope', '--profile', '1'])).code).toBe(3);
    const pub = await published();
    expect((await cli(pub, ['landing', 'link', 'p', '--profile', '99'])).code).toBe(3);
  });

  it('link without --json prints the URL; the one-click URL goes to stderr', async () => {
    const db = await published();
    const r = await cli(db, ['landing', 'link', 'p', '--profile', '1', '--base-url', 'https://p.example.com']);
    expect(r.stdout).toMatch(/^https:\/\/p\.example\.com\/p\?t=[A-Za-z0-9_-]{66}\n$/);
    expect(r.stderr).toContain('https://p.example.com/p/one-click?t=');
    // The person's email is nowhere in the link, not even inside the decoded token.
    const token = new URL(r.stdout.trim()).searchParams.get('t')!;
    const email = 'p1@example.com';
    for (const text of [r.stdout, r.stderr, Buffer.from(token, 'base64url').toString('latin1')]) {
      expect(text.toLowerCase()).not.toContain(email);
      expect(text).not.toContain(encodeURIComponent(email));
    }
  });

  it('links: CSV with a header, every profile, the same links as `link`', async () => {
    const db = await published();
    const r = await cli(db, ['landing', 'links', 'p', '--base-url', 'https://p.example.com']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('id,email,url,oneClickUrl');
    expect(lines).toHaveLength(4);
    const one = await runJson(db, ['landing', 'link', 'p', '--profile', '1', '--base-url', 'https://p.example.com', '--json']);
    expect(lines[1]).toBe(`1,p1@example.com,${one.url},${one.oneClickUrl}`);
    expect(r.stderr).toContain('3 link(s)');
  });

  it('links --reachable, --format jsonl, --out; an acquisition page has no one-click URL', async () => {
    const db = await published('acquisition');
    const r = await cli(db, ['landing', 'links', 'p', '--reachable', 'email', '--format', 'jsonl']);
    const rows = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((x) => x.id)).toEqual([1, 3]);
    expect(rows[0]).toEqual({ id: 1, email: 'p1@example.com', url: expect.stringMatching(/^\/p\?t=/), oneClickUrl: null });
    const file = join(tempDir(), 'links.csv');
    const toFile = await cli(db, ['landing', 'links', 'p', '--out', file]);
    expect(toFile.stdout).toBe('');
    expect(readFileSync(file, 'utf8').split('\n')[1]).toMatch(/^1,p1@example\.com,\/p\?t=[A-Za-z0-9_-]{66},$/);
    expect((await cli(db, ['landing', 'links', 'p', '--reachable', 'all'])).code).toBe(2);
    expect((await cli(db, ['landing', 'links', 'p', '--format', 'xml'])).code).toBe(2);
    expect((await cli(db, ['landing', 'links', 'p', '--expires-in', '2w'])).code).toBe(2);
  });
});

describe('help', () => {
  it('every landing and keys command has help text', async () => {
    for (const argv of [['landing'], ['keys'], ...['create', 'edit', 'show', 'list', 'publish', 'render', 'link', 'links'].map((v) => ['landing', v]), ...['list', 'rotate', 'retire'].map((v) => ['keys', v])]) {
      const r = await runCli([...argv, '--help']);
      expect(r.code, argv.join(' ')).toBe(0);
      expect(r.stdout.length).toBeGreaterThan(50);
    }
  });
});
});
