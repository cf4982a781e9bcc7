import type { Lang } from './page.js';

/** Every built-in page string, in each page language. Channel names and labels come from src/consent/channels.ts. */
export interface PageStrings {
  hello: string;
  emailLabel: string;
  consentLegend: string;
  optoutLegend: string;
  blocklistGeneric: string;
  blocklistPersonal: string;
  saveChoices: string;
  unsubscribeAll: string;
  thanksTitle: string;
  acquisitionConfirmation: string;
  blocklistConfirmation: string;
  /** Services (issue 6). */
  servicesLegend: string;
  confirmTitle: string;
  confirmText: string;
  confirmButton: string;
  confirmedText: string;
  serviceUnsubscribedText: string;
  /** The page a GET of a per-service one-click link opens (its button POSTs the one-click). */
  oneClickServiceQuestion: (serviceLabel: string) => string;
  oneClickServiceText: string;
  oneClickServiceButton: string;
}

export const STRINGS: Record<Lang, PageStrings> = {
  en: {
    hello: 'Hello',
    emailLabel: 'Your email address',
    consentLegend: 'You may contact me by',
    optoutLegend: 'No longer contact (on blocklist)',
    blocklistGeneric: 'Enter your email address to stop receiving any communication from us, on every channel.',
    blocklistPersonal: 'Confirm to stop receiving any communication from us, on every channel.',
    saveChoices: 'Save my choices',
    unsubscribeAll: 'Unsubscribe from everything',
    thanksTitle: 'Thank you',
    acquisitionConfirmation: 'Thank you, your choices have been saved.',
    blocklistConfirmation: 'Done: you will no longer be contacted by any channel.',
    servicesLegend: 'Send me',
    confirmTitle: 'Confirm your subscription',
    confirmText: 'Please confirm that you want to receive:',
    confirmButton: 'Confirm my subscription',
    confirmedText: 'Your subscription is confirmed:',
    serviceUnsubscribedText: 'Done: you are unsubscribed from',
    oneClickServiceQuestion: (label) => `Unsubscribe from ${label}?`,
    oneClickServiceText: 'You will no longer receive these messages. Your other choices stay as they are.',
    oneClickServiceButton: 'Unsubscribe',
  },
  fr: {
    hello: 'Bonjour',
    emailLabel: 'Votre adresse email',
    consentLegend: 'Vous pouvez me contacter par',
    optoutLegend: 'Ne plus contacter (en liste de blocage)',
    blocklistGeneric: 'Saisissez votre adresse email pour ne plus recevoir aucune communication de notre part, sur aucun canal.',
    blocklistPersonal: 'Confirmez pour ne plus recevoir aucune communication de notre part, sur aucun canal.',
    saveChoices: 'Enregistrer mes choix',
    unsubscribeAll: 'Me désinscrire de tout',
    thanksTitle: 'Merci',
    acquisitionConfirmation: 'Merci, vos choix ont été enregistrés.',
    blocklistConfirmation: "C'est fait : vous ne serez plus contacté(e) par aucun canal.",
    servicesLegend: 'Envoyez-moi',
    confirmTitle: 'Confirmez votre abonnement',
    confirmText: 'Merci de confirmer que vous souhaitez recevoir :',
    confirmButton: 'Confirmer mon abonnement',
    confirmedText: 'Votre abonnement est confirmé :',
    serviceUnsubscribedText: "C'est fait : vous êtes désabonné(e) de",
    oneClickServiceQuestion: (label) => `Ne plus recevoir « ${label} » ?`,
    oneClickServiceText: 'Vous ne recevrez plus ces messages. Vos autres choix restent inchangés.',
    oneClickServiceButton: 'Me désabonner',
  },
};
