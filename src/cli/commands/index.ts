import type { Command } from 'commander';
import type { Act } from '../run.js';
import { registerProfile } from './profile.js';
import { registerBlocklistAll } from './blocklist-all.js';
import { registerLedger } from './ledger.js';
import { registerBackup } from './backup.js';
import { registerService } from './service.js';
import { registerLanding } from './landing.js';
import { registerKeys } from './keys.js';

/** Each registers its noun (and verbs) on the program. Command bodies are loaded on use. */
export const COMMANDS: ((program: Command, act: Act) => void)[] = [
  registerProfile,
  registerBlocklistAll,
  registerLedger,
  registerBackup,
  registerService,
  registerLanding,
  registerKeys,
];
