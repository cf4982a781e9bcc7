/** Every text of the report, per language (`consent report --lang`). */
import type { Channel } from '../consent/channels.js';
import type { DelayBucket, SourceKind } from '../consent/stats.js';

export const REPORT_LANGS = ['en', 'fr'] as const;
export type ReportLang = (typeof REPORT_LANGS)[number];

export interface ReportStrings {
  title: string;
  period: (since: string, until: string) => string;
  generated: (at: string) => string;
  summary: string;
  profiles: (n: string) => string;
  channel: string;
  reachable: string;
  optedOut: string;
  suppressed: string;
  erased: string;
  none: string;
  optOutsByChannel: string;
  optOutsByChannelNote: string;
  optOutsBySource: string;
  optOutsBySourceNote: string;
  reachableOverTime: string;
  reachableOverTimeNote: string;
  subscriptions: string;
  subscriptionsNote: string;
  noServices: string;
  subscribed: string;
  pending: string;
  reasons: string;
  reasonsNote: string;
  noReasons: string;
  delay: string;
  delayNote: (count: string, longest: string) => string;
  noDelay: string;
  delayRules: string;
  weekOf: string;
  dataTable: string;
  channels: Record<Channel, string>;
  kinds: Record<SourceKind, string>;
  buckets: Record<DelayBucket, string>;
  reasonCodes: Record<string, string>;
}

export const REPORT_STRINGS: Record<ReportLang, ReportStrings> = {
  en: {
    title: 'Consent overview',
    period: (since, until) => `Period: ${since} to ${until} (UTC).`,
    generated: (at) => `Generated ${at} from the consent store; every figure comes from its ledger and profiles.`,
    summary: 'Today',
    profiles: (n) => `${n} profiles.`,
    channel: 'Channel',
    reachable: 'Reachable',
    optedOut: 'Opted out',
    suppressed: 'Suppressed',
    erased: 'Erased',
    none: '—',
    optOutsByChannel: 'Opt-outs per week, by channel',
    optOutsByChannelNote: 'Each opt-out recorded in the ledger during the week (a person opting out of a channel, or of every channel: "all").',
    optOutsBySource: 'Opt-outs per week, by source',
    optOutsBySourceNote:
      'Where each opt-out came from: an operator, an import, a landing page, a one-click unsubscribe (RFC 8058), an SMS reply (STOP), a mailbox provider\'s complaint.',
    reachableOverTime: 'Reachable audience per channel, at each week\'s end',
    reachableOverTimeNote:
      'Profiles that could be contacted at the end of each week (the last point: now), as the ledger recorded it by then: the opt-outs, grants and erasures, the suppression-list entries in force (added, expired, lifted), and the channel\'s basis (opt-out or opt-in). The same count as `profile list --reachable <channel> --as-of <that day>`.',
    subscriptions: 'Subscriptions per service',
    subscriptionsNote: 'Subscribed and pending (awaiting the person\'s confirmation of a double opt-in) today.',
    noServices: 'No services yet.',
    subscribed: 'Subscribed',
    pending: 'Pending',
    reasons: 'Unsubscribe reasons',
    reasonsNote: 'What people answered, when asked why they opted out (optional: most do not answer).',
    noReasons: 'No unsubscribe reasons were collected in this period.',
    delay: 'Time from a person\'s request to the opt-out being recorded',
    delayNote: (count, longest) => `${count} opt-outs in the period; the longest took ${longest} from the request to its record in the ledger.`,
    noDelay: 'No opt-outs in this period.',
    delayRules:
      'Opt-outs are recorded at once here. For comparison: CAN-SPAM allows a sender 10 business days to honour an opt-out; Gmail and Yahoo require bulk senders to honour one-click unsubscribes within 2 days.',
    weekOf: 'week of',
    dataTable: 'The figures',
    channels: { all: 'All channels', email: 'Email', sms: 'SMS', phone: 'Phone', postal: 'Postal mail', fax: 'Fax', push: 'Push' },
    kinds: { operator: 'Operator', import: 'Import', page: 'Landing page', 'one-click': 'One-click', sms: 'SMS reply', feedback: 'Complaint (feedback)', other: 'Other' },
    buckets: {
      'under-1s': 'under 1 s',
      'under-1min': '1 s – 1 min',
      'under-1h': '1 min – 1 h',
      'under-1d': '1 h – 1 day',
      'under-2d': '1 – 2 days',
      'under-14d': '2 – 14 days',
      later: 'over 14 days',
    },
    reasonCodes: { 'too-many': 'Too many messages', 'not-relevant': 'Not relevant', 'never-signed-up': 'Never signed up', other: 'Other', unknown: 'Not coded' },
  },
  fr: {
    title: 'Vue d\'ensemble du consentement',
    period: (since, until) => `Période : du ${since} au ${until} (UTC).`,
    generated: (at) => `Généré le ${at} à partir de la base de consentement ; chaque chiffre provient de son registre et des profils.`,
    summary: 'Aujourd\'hui',
    profiles: (n) => `${n} profils.`,
    channel: 'Canal',
    reachable: 'Joignables',
    optedOut: 'Désinscrits',
    suppressed: 'En liste de suppression',
    erased: 'Effacés',
    none: '—',
    optOutsByChannel: 'Désinscriptions par semaine, par canal',
    optOutsByChannelNote: 'Chaque désinscription enregistrée dans le registre pendant la semaine (d\'un canal, ou de tous les canaux).',
    optOutsBySource: 'Désinscriptions par semaine, par origine',
    optOutsBySourceNote:
      'D\'où vient chaque désinscription : un opérateur, un import, une page, un désabonnement en un clic (RFC 8058), une réponse SMS (STOP), une plainte d\'un fournisseur de messagerie.',
    reachableOverTime: 'Audience joignable par canal, en fin de semaine',
    reachableOverTimeNote:
      'Les profils qu\'on pouvait contacter à la fin de chaque semaine (le dernier point : maintenant), tels que le registre les avait enregistrés à cette date : désinscriptions, consentements et effacements, entrées de la liste de suppression en vigueur (ajoutées, expirées, levées) et base du canal (opt-out ou opt-in). Le même nombre que `profile list --reachable <canal> --as-of <ce jour>`.',
    subscriptions: 'Abonnements par service',
    subscriptionsNote: 'Abonnés et en attente (confirmation d\'un double opt-in attendue) aujourd\'hui.',
    noServices: 'Aucun service pour l\'instant.',
    subscribed: 'Abonnés',
    pending: 'En attente',
    reasons: 'Raisons de désinscription',
    reasonsNote: 'Ce que les personnes ont répondu quand on leur a demandé pourquoi (facultatif : la plupart ne répondent pas).',
    noReasons: 'Aucune raison de désinscription recueillie sur la période.',
    delay: 'Délai entre la demande de la personne et l\'enregistrement de la désinscription',
    delayNote: (count, longest) => `${count} désinscriptions sur la période ; la plus lente a pris ${longest} entre la demande et son inscription au registre.`,
    noDelay: 'Aucune désinscription sur la période.',
    delayRules:
      'Ici, les désinscriptions sont enregistrées immédiatement. Pour comparaison : CAN-SPAM accorde 10 jours ouvrés pour honorer une désinscription ; Gmail et Yahoo exigent des expéditeurs en masse qu\'ils honorent un désabonnement en un clic sous 2 jours.',
    weekOf: 'semaine du',
    dataTable: 'Les chiffres',
    channels: { all: 'Tous les canaux', email: 'Email', sms: 'SMS', phone: 'Téléphone', postal: 'Courrier', fax: 'Fax', push: 'Notification push' },
    kinds: { operator: 'Opérateur', import: 'Import', page: 'Page', 'one-click': 'Un clic', sms: 'Réponse SMS', feedback: 'Plainte (retour)', other: 'Autre' },
    buckets: {
      'under-1s': 'moins d\'1 s',
      'under-1min': '1 s – 1 min',
      'under-1h': '1 min – 1 h',
      'under-1d': '1 h – 1 jour',
      'under-2d': '1 – 2 jours',
      'under-14d': '2 – 14 jours',
      later: 'plus de 14 jours',
    },
    reasonCodes: { 'too-many': 'Trop de messages', 'not-relevant': 'Pas pertinent', 'never-signed-up': 'Jamais inscrit', other: 'Autre', unknown: 'Non codée' },
  },
};
