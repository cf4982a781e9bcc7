import { HtmlValidate } from 'html-validate';

const validator = new HtmlValidate({
  extends: ['html-validate:recommended', 'html-validate:a11y'],
  rules: {
    // Search-engine advice, not validity: operators may write titles up to 200 characters.
    'long-title': 'off',
  },
});

/** The validator's messages for a document ("rule: message (line:col)"), empty when valid. */
export async function htmlProblems(source: string): Promise<string[]> {
  const report = await validator.validateString(source);
  return report.results.flatMap((r) => r.messages.map((m) => `${m.ruleId}: ${m.message} (${m.line}:${m.column})`));
}
