/**
 * The person's report (`profile report --format html`) as a page they can
 * read: self-contained (no external resource, no script), a strict CSP in a
 * <meta>, every value escaped by construction (html.ts), in English or French.
 */
import { createHash } from 'node:crypto';
import type { PersonReport, ReportLang } from '../consent/report.js';
import { CHANNEL_INFO, type ContactChannel } from '../consent/channels.js';
import { html, trustedHtml, type SafeHtml } from './html.js';
import type { Lang, Wording } from './page.js';
import { channelName, channelOptoutLabel, shippedStrings } from './strings.js';

const CSS = [
  'body{margin:0;font:1rem/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#f6f6f4}',
  'main{max-width:60rem;margin:0 auto;padding:1.5rem 1rem}',
  'h1{font-size:1.5rem;margin:0 0 1rem}',
  'h2{font-size:1.2rem;margin:2rem 0 .5rem}',
  'h3{font-size:1rem;margin:1rem 0 .25rem}',
  'table{border-collapse:collapse;width:100%;margin:0 0 1rem;background:#fff}',
  'th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}',
  'th{background:#eee}',
  'pre{white-space:pre-wrap;word-break:break-all;background:#fff;border:1px solid #ccc;padding:.5rem;margin:0}',
  'code{word-break:break-all}',
  '.erased{border:2px solid #a00;padding:.75rem 1rem;background:#fff0f0}',
].join('');

const STYLE_HASH = `'sha256-${createHash('sha256').update(CSS, 'utf8').digest('base64')}'`;
/** Nothing may load, run or be sent from the page: only its own style, by hash. */
export const REPORT_CSP = `default-src 'none'; style-src ${STYLE_HASH}; img-src 'none'; form-action 'none'; base-uri 'none'`;

const STRINGS = {
  en: {
    title: 'The data we hold about you',
    intro: 'This report lists everything our consent store holds about you (GDPR art. 15): your profile, your choices for each channel and service and when and how each was made, every recorded change with its proof, the pages you used, and the suppressions of your addresses.',
    generated: 'Report made on',
    erased: (at: string) => `Your personal data was erased on ${at} (GDPR art. 17). What remains is shown below: the record of your choices, without your email, phone or name, and you stay unreachable on every channel.`,
    controller: 'Who holds your data', controllerName: 'Controller', contact: 'Contact', postal: 'Address', privacy: 'Privacy policy',
    profile: 'Your profile',
    id: 'Profile number', email: 'Email', phone: 'Phone', firstName: 'First name', lastName: 'Last name', created: 'Created', updated: 'Last updated',
    channels: 'Your choices, channel by channel',
    channel: 'Channel', optedOut: 'No longer contact', reachable: 'May be contacted', lastChange: 'Last change', how: 'How',
    basis: 'Rule', consent: 'Your consent',
    basis_: { 'opt-in': 'only with your consent (opt-in)', 'opt-out': 'unless you object (opt-out)' } as Record<string, string>,
    consent_: { granted: 'given', refused: 'refused', unknown: 'not asked yet' } as Record<string, string>,
    yes: 'yes', no: 'no', none: '-', never: 'never changed',
    services: 'Your subscriptions',
    service: 'Service', status: 'Status', since: 'Since',
    noServices: 'You have no subscription.',
    events: 'Every recorded change',
    when: 'When', action: 'Action', source: 'Source', actor: 'By', reason: 'Reason', evidence: 'Proof',
    action_: { address: 'phone number changed' } as Record<string, string>,
    noEvents: 'No change was ever recorded.',
    pages: 'Pages you used',
    page: 'Page', version: 'Version', published: 'Published', text: 'The page version, exactly as stored', pageTitle: 'Title', pageIntro: 'Introduction', boxes: 'Boxes offered', usedFor: 'Changes recorded from it',
    noPages: 'You did not use any of our pages.',
    suppressions: 'Suppressions of your addresses',
    address: 'Address', origin: 'Origin', expires: 'Expires',
    noSuppressions: 'None of your addresses is on our suppression list.',
    digest: 'Proof of the record',
    digestIntro: 'The record of changes is a hash-chained ledger. At the time of this report its last block was:',
    block: 'Block', hash: 'Hash', count: 'Events in the chain',
    noDigest: 'The ledger was empty.',
    status_: { subscribed: 'subscribed', pending: 'pending confirmation', unsubscribed: 'unsubscribed' } as Record<string, string>,
  },
  fr: {
    title: 'Les données que nous détenons sur vous',
    intro: 'Ce rapport présente tout ce que notre registre des consentements détient sur vous (RGPD art. 15) : votre profil, vos choix pour chaque canal et chaque service, quand et comment chacun a été fait, chaque changement enregistré avec sa preuve, les pages que vous avez utilisées et les suppressions de vos adresses.',
    generated: 'Rapport établi le',
    erased: (at: string) => `Vos données personnelles ont été effacées le ${at} (RGPD art. 17). Ce qui reste est présenté ci-dessous : l'historique de vos choix, sans votre email, votre téléphone ni votre nom, et vous restez injoignable sur tous les canaux.`,
    controller: 'Qui détient vos données', controllerName: 'Responsable du traitement', contact: 'Contact', postal: 'Adresse', privacy: 'Politique de confidentialité',
    profile: 'Votre profil',
    id: 'Numéro de profil', email: 'Email', phone: 'Téléphone', firstName: 'Prénom', lastName: 'Nom', created: 'Créé le', updated: 'Mis à jour le',
    channels: 'Vos choix, canal par canal',
    channel: 'Canal', optedOut: 'Ne plus contacter', reachable: 'Peut être contacté', lastChange: 'Dernier changement', how: 'Comment',
    basis: 'Règle', consent: 'Votre consentement',
    basis_: { 'opt-in': 'seulement avec votre accord (opt-in)', 'opt-out': 'sauf si vous vous y opposez (opt-out)' } as Record<string, string>,
    consent_: { granted: 'donné', refused: 'refusé', unknown: 'pas encore demandé' } as Record<string, string>,
    yes: 'oui', no: 'non', none: '-', never: 'jamais modifié',
    services: 'Vos abonnements',
    service: 'Service', status: 'État', since: 'Depuis',
    noServices: "Vous n'avez aucun abonnement.",
    events: 'Tous les changements enregistrés',
    when: 'Quand', action: 'Action', source: 'Origine', actor: 'Par', reason: 'Motif', evidence: 'Preuve',
    action_: { address: 'numéro de téléphone modifié' } as Record<string, string>,
    noEvents: "Aucun changement n'a été enregistré.",
    pages: 'Pages que vous avez utilisées',
    page: 'Page', version: 'Version', published: 'Publiée le', text: 'La version de la page, telle que conservée', pageTitle: 'Titre', pageIntro: 'Introduction', boxes: 'Cases proposées', usedFor: 'Changements enregistrés depuis cette page',
    noPages: "Vous n'avez utilisé aucune de nos pages.",
    suppressions: 'Suppressions de vos adresses',
    address: 'Adresse', origin: 'Origine', expires: 'Expire le',
    noSuppressions: "Aucune de vos adresses n'est sur notre liste de suppression.",
    digest: 'Preuve du registre',
    digestIntro: "L'historique des changements est un registre chaîné par empreintes. Au moment de ce rapport, son dernier bloc était :",
    block: 'Bloc', hash: 'Empreinte', count: 'Événements dans la chaîne',
    noDigest: 'Le registre était vide.',
    status_: { subscribed: 'abonné', pending: 'en attente de confirmation', unsubscribed: 'désabonné' } as Record<string, string>,
  },
} satisfies Record<ReportLang, unknown>;

const json = (v: unknown): string => JSON.stringify(v, null, 2);

/** What the person read on the page: its title, introduction and boxes (channel labels in the page's wording and language). */
function pageText(definition: Record<string, unknown> | null, lang: ReportLang, row: (label: string, value: string | null) => SafeHtml): SafeHtml {
  if (!definition) return html``;
  const t = STRINGS[lang];
  // The page's own language (any language with shipped strings; the reference otherwise).
  const pageStrings = shippedStrings(typeof definition.lang === 'string' ? definition.lang : 'en');
  const wording = definition.wording as Wording;
  const channels = Array.isArray(definition.channels) ? (definition.channels as ContactChannel[]) : [];
  const services = Array.isArray(definition.services) ? (definition.services as string[]) : [];
  const boxes = [...channels.filter((c) => c in CHANNEL_INFO).map((c) => (wording === 'optout' ? channelOptoutLabel(pageStrings, c) : channelName(pageStrings, c))), ...services];
  return html`${row(t.pageTitle, typeof definition.title === 'string' ? definition.title : null)}
${row(t.pageIntro, typeof definition.intro === 'string' ? definition.intro : null)}
${row(t.boxes, boxes.length > 0 ? boxes.join(' · ') : null)}`;
}

/** The report as a complete HTML document. */
export function renderReportPage(r: PersonReport): string {
  const t = STRINGS[r.language];
  const yesNo = (b: boolean | null) => (b === null ? t.none : b ? t.yes : t.no);
  const p = r.profile;
  const row = (label: string, value: string | number | null) => html`<tr><th scope="row">${label}</th><td>${value ?? t.none}</td></tr>`;
  const table = (head: string[], rows: SafeHtml[]) =>
    html`<table>\n<thead><tr>${head.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead>\n<tbody>\n${rows.map((x) => html`${x}\n`)}</tbody>\n</table>`;
  const how = (c: { action: string; source: string; actor: string; reason: string | null } | null) =>
    c ? `${c.action}: ${c.source}, ${c.actor}${c.reason ? ` (${c.reason})` : ''}` : t.never;

  const body = html`<h1>${t.title}</h1>
<p>${t.intro}</p>
<p>${t.generated} <time datetime="${r.generatedAt}">${r.generatedAt}</time>.</p>
${p.erased ? html`<p class="erased">${t.erased(p.erasedAt ?? '')}</p>` : ''}
${r.piiControllers.map(
  (c) => html`<h2>${t.controller}</h2>
<table>
<tbody>
${row(t.controllerName, c.piiController)}
${row(t.contact, c.contact)}
${row(t.postal, c.address)}
${row(t.privacy, c.privacyUrl)}
</tbody>
</table>
`,
)}<h2>${t.profile}</h2>
<table>
<tbody>
${row(t.id, p.id)}
${p.erased ? '' : html`${row(t.email, p.email)}\n${row(t.phone, p.phone)}\n${row(t.firstName, p.firstName)}\n${row(t.lastName, p.lastName)}\n`}${row(t.created, p.createdAt)}
${row(t.updated, p.updatedAt)}
</tbody>
</table>
<h2>${t.channels}</h2>
${table(
  [t.channel, t.optedOut, t.basis, t.consent, t.reachable, t.lastChange, t.how],
  r.channels.map(
    (c) =>
      html`<tr><td>${c.label}</td><td>${yesNo(c.optedOut)}</td><td>${c.basis ? t.basis_[c.basis] : t.none}</td><td>${c.consent ? t.consent_[c.consent] : t.none}</td><td>${yesNo(c.reachable)}</td><td>${c.lastChange?.occurredAt ?? t.none}</td><td>${how(c.lastChange)}</td></tr>`,
  ),
)}
<h2>${t.services}</h2>
${
  r.services.length === 0
    ? html`<p>${t.noServices}</p>`
    : table(
        [t.service, t.channel, t.status, t.since, t.how],
        r.services.map((s) => html`<tr><td>${s.service}</td><td>${s.channel}</td><td>${t.status_[s.status] ?? s.status}</td><td>${s.since}</td><td>${how(s.lastChange)}</td></tr>`),
      )
}
<h2>${t.events}</h2>
${
  r.events.length === 0
    ? html`<p>${t.noEvents}</p>`
    : table(
        ['#', t.when, t.channel, t.action, t.source, t.actor, t.reason, t.evidence],
        r.events.map(
          (e) =>
            html`<tr><td>${e.id}</td><td>${e.occurredAt}</td><td>${e.service ? `${e.channel} / ${e.service}` : e.channel}</td><td>${t.action_[e.action] ?? e.action}</td><td>${e.source}</td><td>${e.actor}</td><td>${e.reason ?? t.none}</td><td>${e.evidence ? html`<pre>${json(e.evidence)}</pre>` : t.none}</td></tr>`,
        ),
      )
}
<h2>${t.pages}</h2>
${
  r.pagesSeen.length === 0
    ? html`<p>${t.noPages}</p>`
    : r.pagesSeen.map(
        (pg) => html`<h3>${pg.slug}, ${t.version} ${pg.version}</h3>
<table>
<tbody>
${row(t.published, pg.publishedAt)}
${row(t.usedFor, pg.eventIds.map((id) => `#${id}`).join(', '))}
${pageText(pg.definition, r.language, row)}
<tr><th scope="row">${t.text}</th><td>${pg.definition ? html`<pre>${json(pg.definition)}</pre>` : t.none}</td></tr>
</tbody>
</table>
`,
      )
}
<h2>${t.suppressions}</h2>
${
  r.suppressions.length === 0
    ? html`<p>${t.noSuppressions}</p>`
    : table(
        [t.channel, t.address, t.reason, t.origin, t.since, t.expires],
        r.suppressions.map((s) => html`<tr><td>${s.channel}</td><td>${s.address ?? t.none}</td><td>${s.reason}</td><td>${s.origin}</td><td>${s.since}</td><td>${s.expiresAt ?? t.none}</td></tr>`),
      )
}
<h2>${t.digest}</h2>
${
  r.ledgerDigest
    ? html`<p>${t.digestIntro}</p>
<table>
<tbody>
${row(t.block, r.ledgerDigest.blockId)}
<tr><th scope="row">${t.hash}</th><td><code>${r.ledgerDigest.hash}</code></td></tr>
${row(t.count, r.ledgerDigest.events)}
</tbody>
</table>`
    : html`<p>${t.noDigest}</p>`
}`;

  return html`<!DOCTYPE html>
<html lang="${r.language}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${REPORT_CSP}">
<meta name="referrer" content="no-referrer">
<title>${t.title}</title>
<style>${trustedHtml(CSS)}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`.value;
}
