/** The landing-page library: what the CLI and the server import. See README.md here. */
export * from './page.js';
export * from './repository.js';
export * from './render.js';
export * from './tokens.js';
export * from './urls.js';
export * from './operations.js';
export { STRINGS, type PageStrings } from './strings.js';
export { html, trustedHtml, SafeHtml } from './html.js';
export * from './services.js';
