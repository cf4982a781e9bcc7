/**
 * The one list of channels. Everything else (flags, columns, JSON keys, page
 * checkboxes, Adobe field names) is derived from here.
 */
export const CONTACT_CHANNELS = ['email', 'sms', 'phone', 'postal', 'fax', 'push'] as const;
export type ContactChannel = (typeof CONTACT_CHANNELS)[number];

/** `all` is "no longer contact by any channel": a flag of its own, not a shorthand. */
export const ALL = 'all' as const;
export const CHANNELS = [ALL, ...CONTACT_CHANNELS] as const;
export type Channel = (typeof CHANNELS)[number];

export interface ChannelInfo {
  id: Channel;
  /** Adobe Campaign's field, accepted as an import column. */
  adobeField: string;
  label: { en: string; fr: string };
  /** Short name, for "consent" wording on pages. */
  name: { en: string; fr: string };
}

export const CHANNEL_INFO: Record<Channel, ChannelInfo> = {
  all: {
    id: 'all',
    adobeField: 'blackList',
    label: { en: 'No longer contact (by any channel)', fr: 'Ne plus contacter (par aucun canal)' },
    name: { en: 'Any channel', fr: 'Tous les canaux' },
  },
  email: {
    id: 'email',
    adobeField: 'blackListEmail',
    label: { en: 'No longer contact by email', fr: 'Ne plus contacter par email' },
    name: { en: 'Email', fr: 'Email' },
  },
  sms: {
    id: 'sms',
    adobeField: 'blackListMobile',
    label: { en: 'No longer contact by SMS', fr: 'Ne plus contacter par SMS' },
    name: { en: 'SMS', fr: 'SMS' },
  },
  phone: {
    id: 'phone',
    adobeField: 'blackListPhone',
    label: { en: 'No longer contact by phone', fr: 'Ne plus contacter par téléphone' },
    name: { en: 'Phone', fr: 'Téléphone' },
  },
  postal: {
    id: 'postal',
    adobeField: 'blackListPostalMail',
    label: { en: 'No longer contact by direct mail', fr: 'Ne plus contacter par courrier' },
    name: { en: 'Direct mail', fr: 'Courrier' },
  },
  fax: {
    id: 'fax',
    adobeField: 'blackListFax',
    label: { en: 'No longer contact by fax', fr: 'Ne plus contacter par fax' },
    name: { en: 'Fax', fr: 'Fax' },
  },
  push: {
    id: 'push',
    adobeField: 'blackListPushnotification',
    label: { en: 'No longer contact by push notification', fr: 'Ne plus contacter par notification push' },
    name: { en: 'Push notification', fr: 'Notification push' },
  },
};

export function isChannel(value: string): value is Channel {
  return (CHANNELS as readonly string[]).includes(value);
}


export type OptOutFlags = Record<Channel, boolean>;
export type Reachability = Record<ContactChannel, boolean>;

export function noOptOuts(): OptOutFlags {
  return { all: false, email: false, sms: false, phone: false, postal: false, fax: false, push: false };
}
