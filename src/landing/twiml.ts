/** TwiML, the XML a Twilio Messaging webhook answers with: escaped by construction. */
const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

export function xmlText(text: string): string {
  // Characters XML 1.0 cannot carry at all are dropped rather than sent as an invalid document.
  return text.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '').replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!);
}

/** `<Response><Message>text</Message></Response>`, or `<Response/>` for no reply. */
export function twiml(reply: string | null): string {
  const head = '<?xml version="1.0" encoding="UTF-8"?>';
  return reply === null ? `${head}<Response/>` : `${head}<Response><Message>${xmlText(reply)}</Message></Response>`;
}
