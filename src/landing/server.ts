/** The landing server, split by responsibility under server/ (see server/index.ts); this path is kept for importers. */
export * from './server/index.js';
