/**
 * Issue 16, "a new language added and served": strings imported for a
 * language the tool does not ship (pt) are what the running server answers,
 * on both stores: the page in that language, a person's own link to it, and
 * a change of the strings reaching the server without a restart.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { serverFixture } from './helpers/landing-server.js';
import { BACKENDS, tempDir } from './helpers/run-cli.js';
import { htmlProblems } from './helpers/html.js';

describe.each(BACKENDS)('a language added with landing strings import, served on %s', (backend) => {
  it('is the language of the page the server answers, generic and personal, and a new import reaches it', async () => {
    const f = await serverFixture({ backend });
    const en = JSON.parse(await f.cli('landing', 'strings', 'export'));
    const file = join(tempDir(), 'pt.json');
    writeFileSync(file, JSON.stringify({ ...en, blocklistLegend: 'Parar todas as mensagens <já>', unsubscribeAll: 'Cancelar tudo' }));
    await f.cli('landing', 'strings', 'import', file);
    await f.cli('landing', 'create', 'parar', '--type', 'blocklist', '--title', 'Parar', '--lang', 'pt');
    await f.cli('landing', 'publish', 'parar', '--out-dir', join(f.dir, 'public'));

    const generic = await fetch(`${f.url}/parar`);
    expect(generic.status).toBe(200);
    const doc = await generic.text();
    expect(doc).toContain('<html lang="pt">');
    expect(doc).toContain('<legend>Parar todas as mensagens &lt;já&gt;</legend>');
    expect(doc).toContain('Cancelar tudo</button>');
    expect(await htmlProblems(doc)).toEqual([]);

    const { url } = await f.link('parar', 'bob@example.com');
    const personal = await (await fetch(`${f.url}${url}`)).text();
    expect(personal).toContain('<html lang="pt">');

    // The operator changes a text: the running server answers with it (strings are re-read, no restart).
    writeFileSync(file, JSON.stringify({ ...en, blocklistLegend: 'Parar todas as mensagens <já>', unsubscribeAll: 'Cancelar todas' }));
    await f.cli('landing', 'strings', 'import', file);
    let text = '';
    for (let i = 0; i < 40 && !text.includes('Cancelar todas</button>'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      f.clock.now = new Date(f.clock.now.getTime() + 500); // the server's cache of a language's look lasts a second of its clock
      text = await (await fetch(`${f.url}/parar`)).text();
    }
    expect(text).toContain('Cancelar todas</button>');
  });
});
