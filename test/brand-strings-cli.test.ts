/**
 * Issue 16 through the command line, on both stores: the brand (versioned,
 * logos checked: malicious SVGs refused, nothing stored), publishing under a
 * brand (refused without a privacy URL, a warning without any brand), the
 * branded page in two languages, and page strings (export, import checked for
 * completeness, a new language added and rendered).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BACKENDS, runCli, runJson, tempDir, tempStore } from './helpers/run-cli.js';
import { htmlProblems } from './helpers/html.js';

const FIXTURES = join(process.cwd(), 'fixtures/brand');

async function ok(db: string, argv: string[], options = {}) {
  const r = await runCli(['--db', db, ...argv], options);
  expect(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
}

/** Hostile logos: each must be refused, naming why. */
const MALICIOUS_SVGS: [string, string, RegExp][] = [
  ['script', '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', /<script> element/],
  ['event handler', '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="1" height="1"/></svg>', /event handler attribute onload/],
  ['event handler, upper case', '<svg xmlns="http://www.w3.org/2000/svg"><rect ONCLICK="alert(1)" width="1" height="1"/></svg>', /event handler attribute ONCLICK/],
  ['foreignObject', '<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><p>hi</p></foreignObject></svg>', /<foreignObject> element/],
  ['external href', '<svg xmlns="http://www.w3.org/2000/svg"><use href="https://evil.example/x.svg#a"/></svg>', /external reference href/],
  ['javascript: xlink:href', '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><a xlink:href="javascript:alert(1)"><rect width="1" height="1"/></a></svg>', /<a> element/],
  ['image element', '<svg xmlns="http://www.w3.org/2000/svg"><image href="https://evil.example/t.png"/></svg>', /<image> element/],
  ['style with url()', '<svg xmlns="http://www.w3.org/2000/svg"><style>rect{fill:url(https://evil.example/t)}</style><rect width="1" height="1"/></svg>', /<style> loads an outside resource/],
  ['style with @import', '<svg xmlns="http://www.w3.org/2000/svg"><style>@import "https://evil.example/x.css";</style></svg>', /<style> loads an outside resource/],
  ['attribute url()', '<svg xmlns="http://www.w3.org/2000/svg"><rect fill="url(https://evil.example/t)" width="1" height="1"/></svg>', /refers to an outside resource/],
  ['style with a CSS-escaped url()', '<svg xmlns="http://www.w3.org/2000/svg"><style>rect{fill:u\\72l(https://evil.example/t)}</style><rect width="1" height="1"/></svg>', /<style> has a backslash/],
  ['style with a CSS-escaped @import', '<svg xmlns="http://www.w3.org/2000/svg"><style>@im\\port "https://evil.example/x.css";</style></svg>', /<style> has a backslash/],
  ['attribute with a CSS-escaped url()', '<svg xmlns="http://www.w3.org/2000/svg"><rect style="fill:u\\rl(https://evil.example/t)" width="1" height="1"/></svg>', /has a backslash/],
  ['entity (billion laughs)', '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg"><text>&a;</text></svg>', /DOCTYPE or entity/],
  ['not well-formed', '<svg xmlns="http://www.w3.org/2000/svg"><rect></svg>', /not well-formed/],
];

describe.each(BACKENDS)('on %s', (backend) => {
  it('brand set/show: versions, fields kept from the latest, --json; bad input exits 2 and stores nothing', async () => {
    const db = await tempStore(backend);
    expect((await runCli(['--db', db, 'brand', 'show', '--json'])).code).toBe(3); // a read never creates a store
    const first = await runCli(['--db', db, 'brand', 'set', '--privacy-url', 'https://acme.example/privacy']);
    expect(first.code).toBe(2);
    expect(first.stderr).toMatch(/first `brand set` needs --name/);
    const v1 = await runJson(db, ['brand', 'set', '--name', 'Acme <Ltd>', '--logo', join(FIXTURES, 'logo.png'), '--color', '#1F5FBF', '--json']);
    expect(v1).toMatchObject({ version: 1, name: 'Acme <Ltd>', color: '#1f5fbf', privacyUrl: null, contact: null, address: null });
    expect(v1.logo).toEqual({ type: 'image/png', bytes: readFileSync(join(FIXTURES, 'logo.png')).length, dataUri: `data:image/png;base64,${readFileSync(join(FIXTURES, 'logo.png')).toString('base64')}` });
    const v2 = await runJson(db, ['brand', 'set', '--privacy-url', 'https://acme.example/privacy', '--contact', 'privacy@acme.example', '--json']);
    expect(v2).toMatchObject({ version: 2, name: 'Acme <Ltd>', color: '#1f5fbf', privacyUrl: 'https://acme.example/privacy', contact: 'privacy@acme.example' });
    expect(v2.logo.type).toBe('image/png');
    expect(await runJson(db, ['brand', 'show', '--json'])).toEqual(v2);
    expect(await runJson(db, ['brand', 'show', '--brand-version', '1', '--json'])).toEqual(v1);
    expect((await runCli(['--db', db, 'brand', 'show', '--brand-version', '9'])).code).toBe(3);
    const text = (await ok(db, ['brand', 'show'])).stdout;
    expect(text).toContain('privacy URL  https://acme.example/privacy');

    for (const [argv, message] of [
      [['--color', 'blue'], /Invalid --color "blue"/],
      [['--color', '#ffdd00'], /contrast of 1\.\d\d:1/],
      [['--privacy-url', 'javascript:alert(1)'], /only http\(s\) URLs/],
      [['--privacy-url', 'privacy.html'], /absolute https:\/\/ URL/],
      [['--logo', join(FIXTURES, 'missing.png')], /No file/],
    ] as [string[], RegExp][]) {
      const r = await runCli(['--db', db, 'brand', 'set', ...argv]);
      expect(r.code === 2 || r.code === 3, `${argv.join(' ')}: ${r.code}`).toBe(true);
      expect(r.stderr).toMatch(message);
    }
    expect((await runJson(db, ['brand', 'show', '--json'])).version).toBe(2);
  });

  it('a malicious SVG logo is refused, whatever the vector, and nothing is stored; a clean SVG is kept as given', async () => {
    const db = await tempStore(backend);
    await ok(db, ['brand', 'set', '--name', 'Acme']);
    const dir = tempDir();
    for (const [what, svg, message] of MALICIOUS_SVGS) {
      const file = join(dir, 'logo.svg');
      writeFileSync(file, svg);
      const r = await runCli(['--db', db, 'brand', 'set', '--logo', file]);
      expect(r.code, what).toBe(2);
      expect(r.stderr, what).toMatch(message);
    }
    const big = join(dir, 'big.png');
    writeFileSync(big, Buffer.concat([readFileSync(join(FIXTURES, 'logo.png')), Buffer.alloc(40 * 1024)]));
    expect((await runCli(['--db', db, 'brand', 'set', '--logo', big])).stderr).toMatch(/at most 32768 bytes/);
    const gif = join(dir, 'logo.gif');
    writeFileSync(gif, 'GIF89a....');
    expect((await runCli(['--db', db, 'brand', 'set', '--logo', gif])).stderr).toMatch(/neither a PNG .* nor an SVG/);
    expect(await runJson(db, ['brand', 'show', '--json'])).toMatchObject({ version: 1, logo: null });

    const clean = await runJson(db, ['brand', 'set', '--logo', join(FIXTURES, 'logo.svg'), '--json']);
    expect(clean.logo.type).toBe('image/svg+xml');
    expect(Buffer.from(clean.logo.dataUri.split(',')[1], 'base64').toString('utf8')).toBe(readFileSync(join(FIXTURES, 'logo.svg'), 'utf8'));
    expect((await runJson(db, ['brand', 'set', '--no-logo', '--json'])).logo).toBeNull();
  });

  it('publish: without a brand, pages work and a warning says so; a brand without privacy URL refuses (exit 2, naming it, nothing frozen); the page shows name, logo, footer in en and fr', async () => {
    const db = await tempStore(backend);
    const out = join(tempDir(), 'public');
    await ok(db, ['landing', 'create', 'prefs', '--type', 'acquisition', '--title', 'Prefs', '--channels', 'email,sms']);
    await ok(db, ['landing', 'create', 'stop', '--type', 'blocklist', '--title', 'Arrêt', '--lang', 'fr']);
    const unbranded = await ok(db, ['landing', 'publish', 'prefs', '--out-dir', out]);
    expect(unbranded.stderr.match(/Warning: No brand is set/g)).toHaveLength(1);
    expect(readFileSync(join(out, 'prefs', 'index.html'), 'utf8')).not.toContain('<footer>');

    // While a page is published, a brand without a privacy URL would take the link off it: refused, nothing stored.
    const noPrivacy = await runCli(['--db', db, 'brand', 'set', '--name', 'Acme & Co', '--logo', join(FIXTURES, 'logo.svg')]);
    expect(noPrivacy.code).toBe(2);
    expect(noPrivacy.stderr).toContain('A brand needs a privacy URL while pages are published (prefs)');
    expect(noPrivacy.stderr).toContain('--privacy-url');
    expect(await runJson(db, ['brand', 'show', '--json'])).toBeNull();
    // With no page published, a brand may wait for its privacy URL, and publishing is refused until it has one.
    const db2 = await tempStore(backend);
    await ok(db2, ['landing', 'create', 'stop', '--type', 'blocklist', '--title', 'Arrêt', '--lang', 'fr']);
    await ok(db2, ['brand', 'set', '--name', 'Acme & Co']);
    const refused = await runCli(['--db', db2, 'landing', 'publish', 'stop', '--out-dir', join(tempDir(), 'public')]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('has no privacy URL (--privacy-url)');
    expect((await runJson(db2, ['landing', 'show', 'stop', '--json'])).published).toBeFalsy();

    await ok(db, ['brand', 'set', '--name', 'Acme & Co', '--logo', join(FIXTURES, 'logo.svg'), '--privacy-url', 'https://acme.example/privacy']);

    await ok(db, ['brand', 'set', '--privacy-url', 'https://acme.example/privacy?a=1&b=2', '--contact', 'privacy@acme.example', '--address', '1 Rue <Test>, Paris']);
    const published = await runJson(db, ['landing', 'publish', 'stop', '--out-dir', out, '--json']);
    expect(published).toMatchObject({ version: 1, brandVersion: 2 });
    await ok(db, ['landing', 'edit', 'prefs', '--title', 'Your choices']);
    await ok(db, ['landing', 'publish', 'prefs', '--out-dir', out]);
    for (const [slug, lang, privacy] of [['prefs', 'en', 'Privacy notice'], ['stop', 'fr', 'Politique de confidentialité']]) {
      const doc = readFileSync(join(out, slug!, 'index.html'), 'utf8');
      expect(doc).toContain(`<html lang="${lang}">`);
      expect(doc).toContain('<header class="org"><img src="data:image/svg+xml;base64,');
      expect(doc).toContain('<p class="org-name">Acme &amp; Co</p>');
      expect(doc).toContain(`<a href="https://acme.example/privacy?a=1&amp;b=2">${privacy}</a>`);
      expect(doc).toContain('privacy@acme.example');
      expect(doc).toContain('1 Rue &lt;Test&gt;, Paris');
      expect(doc).toContain('<input type="hidden" name="b" value="2">');
      const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(doc)![1]!.replaceAll('&#39;', "'");
      expect(csp).toContain('img-src data:');
      expect(csp).not.toMatch(/https?:/);
      expect(await htmlProblems(doc)).toEqual([]);
    }
    // Clearing the privacy URL while pages are published: refused, the brand unchanged.
    const cleared = await runCli(['--db', db, 'brand', 'set', '--privacy-url', '']);
    expect(cleared.code).toBe(2);
    expect(cleared.stderr).toContain('A brand needs a privacy URL while pages are published (prefs, stop)');
    expect((await runJson(db, ['brand', 'show', '--json'])).version).toBe(2);
    // No logo: no img-src at all.
    await ok(db, ['brand', 'set', '--no-logo']);
    const noLogo = (await ok(db, ['landing', 'render', 'prefs'])).stdout;
    expect(noLogo).not.toContain('img-src');
    expect(noLogo).not.toContain('<img');
  });

  it('strings: export a language; import refuses a missing key, an unknown key, a lost placeholder (exit 2, naming it); a new language is added and served', async () => {
    const db = await tempStore(backend);
    await ok(db, ['landing', 'create', 'x', '--type', 'blocklist', '--title', 'x']);
    const fr = JSON.parse((await ok(db, ['landing', 'strings', 'export', '--lang', 'fr'])).stdout);
    expect(fr.thanksTitle).toBe('Merci');
    const en = JSON.parse((await ok(db, ['landing', 'strings', 'export'])).stdout);
    expect(Object.keys(fr)).toEqual(Object.keys(en));
    expect((await runCli(['--db', db, 'landing', 'strings', 'export', '--lang', 'pt'])).stderr).toMatch(/"pt" has no page strings/);

    const write = (name: string, value: unknown) => {
      const file = join(tempDir(), name);
      writeFileSync(file, JSON.stringify(value));
      return file;
    };
    const { thanksTitle: _dropped, ...missing } = en;
    for (const [file, message] of [
      [write('pt.json', missing), /missing key "thanksTitle"/],
      [write('pt.json', { ...en, thanksTitel: 'x' }), /unknown key "thanksTitel"/],
      [write('pt.json', { ...en, oneClickServiceQuestion: 'Sair?' }), /key "oneClickServiceQuestion" must hold the placeholder \{label\}/],
      [write('pt.json', { ...en, hello: '' }), /key "hello" is empty/],
      [write('notes.json', en), /Its name is not a language tag/],
    ] as [string, RegExp][]) {
      const r = await runCli(['--db', db, 'landing', 'strings', 'import', file]);
      expect(r.code, String(message)).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    expect((await runJson(db, ['landing', 'strings', 'list', '--json'])).some((l: { imported: boolean }) => l.imported)).toBe(false);
    const refusedLang = await runCli(['--db', db, 'landing', 'create', 'p', '--type', 'blocklist', '--title', 'p', '--lang', 'pt']);
    expect(refusedLang.code).toBe(2);
    expect(refusedLang.stderr).toMatch(/"pt" has no page strings/);

    const pt = { ...en, blocklistLegend: 'Parar todas as mensagens <já>', unsubscribeAll: 'Cancelar tudo', oneClickServiceQuestion: 'Sair de {label}?' };
    expect(await runJson(db, ['landing', 'strings', 'import', write('pt.json', pt), '--json'])).toEqual({ lang: 'pt', keys: Object.keys(en).length, overridesShipped: false });
    await ok(db, ['landing', 'create', 'p', '--type', 'blocklist', '--title', 'Parar', '--lang', 'pt']);
    const doc = (await ok(db, ['landing', 'render', 'p'])).stdout;
    expect(doc).toContain('<html lang="pt">');
    expect(doc).toContain('<legend>Parar todas as mensagens &lt;já&gt;</legend>');
    expect(doc).toContain('Cancelar tudo</button>');
    // Overriding a shipped language.
    await ok(db, ['landing', 'strings', 'import', write('fr.json', { ...fr, unsubscribeAll: 'Tout arrêter' })]);
    await ok(db, ['landing', 'edit', 'x', '--lang', 'fr']);
    expect((await ok(db, ['landing', 'render', 'x'])).stdout).toContain('Tout arrêter</button>');
    expect(await runJson(db, ['landing', 'strings', 'list', '--json'])).toEqual(
      ['de', 'en', 'es', 'fr', 'it', 'nl', 'pt'].map((lang) => ({ lang, shipped: lang !== 'pt', imported: lang === 'pt' || lang === 'fr' })),
    );
  });
});
