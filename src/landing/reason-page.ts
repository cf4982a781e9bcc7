/**
 * The optional unsubscribe-reason survey (`--ask-reason`, issue 16), shown on
 * a blocklist confirmation once the opt-out is recorded: the opt-out never
 * depends on it. Its form is signed like every form of ours: the token binds
 * the person to the opt-out event it explains (namespace `reason:<slug>:<event>`).
 */
import { REASON_CODES, REASON_TEXT_MAX, type ReasonCode } from '../consent/reasons.js';
import { html, type SafeHtml } from './html.js';
import type { PageStrings, StringKey } from './strings.js';

/** The path segment of a page's survey: POST /<slug>/reason. */
export const REASON_SEGMENT = 'reason';

export const REASON_FIELDS = { token: 'r', event: 'e', code: 'code', text: 'text' } as const;

/** What the survey's token is signed for: the page and the opt-out event (a token for another event fails). */
export const reasonNamespace = (slug: string, eventId: number) => `reason:${slug}:${eventId}`;

export function reasonPath(baseUrl: string, slug: string): string {
  return `${baseUrl}/${slug}/${REASON_SEGMENT}`;
}

/** Surveys can be answered for this long after the opt-out (seconds). */
export const REASON_TOKEN_SECONDS = 30 * 86_400;

const CODE_LABEL: Record<ReasonCode, StringKey> = {
  'too-many': 'surveyTooMany',
  'not-relevant': 'surveyNotRelevant',
  'never-signed-up': 'surveyNeverSignedUp',
  other: 'surveyOther',
};

export interface SurveyForm {
  action: string;
  token: string;
  eventId: number;
}

/** The survey form: four coded reasons (radio buttons, none chosen) and a free text; nothing is required. */
export function surveyForm(s: PageStrings, survey: SurveyForm): SafeHtml {
  const radios = REASON_CODES.map((code) => html`<label><input type="radio" name="${REASON_FIELDS.code}" value="${code}">${s[CODE_LABEL[code]]}</label>\n`);
  return html`<form method="post" action="${survey.action}">
<input type="hidden" name="${REASON_FIELDS.token}" value="${survey.token}">
<input type="hidden" name="${REASON_FIELDS.event}" value="${survey.eventId}">
<fieldset>
<legend>${s.surveyLegend}</legend>
<p class="note">${s.surveyNote}</p>
${radios}<label>${s.surveyText}<textarea name="${REASON_FIELDS.text}" maxlength="${REASON_TEXT_MAX}" rows="3"></textarea></label>
</fieldset>
<button type="submit">${s.surveySend}</button>
</form>
`;
}
