import { describeImportKill } from './helpers/import-kill.js';

// The PostgreSQL half of import-kill.test.ts, in a file of its own so that both run at once.
describeImportKill('postgres');
