import type { Command } from 'commander';
import type { Act } from '../run.js';
import { registerProfile } from './profile.js';
import { registerBlocklistAll } from './blocklist-all.js';
import { registerLedger } from './ledger.js';
import { registerBackup } from './backup.js';
import { registerService } from './service.js';
import { registerLanding } from './landing.js';
import { registerKeys } from './keys.js';
import { registerStore } from './store.js';
import { registerSuppression } from './suppression.js';
import { registerFeedback } from './feedback.js';
import { registerSms } from './sms.js';
import { registerAudience } from './audience.js';
import { registerBrand } from './brand.js';
import { registerPolicy } from './policy.js';
import { registerChanges } from './changes.js';
import { registerApiKey } from './api-key.js';
import { registerWebhook } from './webhook.js';
import { registerStats } from './stats.js';

/** Each registers its noun (and verbs) on the program. Command bodies are loaded on use. */
export const COMMANDS: ((program: Command, act: Act) => void)[] = [
  registerProfile,
  registerBlocklistAll,
  registerLedger,
  registerBackup,
  registerService,
  registerLanding,
  registerKeys,
  registerStore,
  registerSuppression,
  registerFeedback,
  registerSms,
  registerAudience,
  registerBrand,
  registerPolicy,
  registerChanges,
  registerApiKey,
  registerWebhook,
  registerStats,
];

/**
 * The commands that may start a new store when there is none (and say so).
 * Every other command, reads above all, needs an existing store: a mistyped
 * --db must exit 3, never answer from an empty store.
 */
const STORE_CREATING_COMMANDS = new Set(['store init', 'profile add', 'profile import', 'service create', 'landing create', 'keys rotate', 'suppression add', 'suppression import', 'brand set', 'policy set']);

export function createsStore(commandPath: string): boolean {
  return STORE_CREATING_COMMANDS.has(commandPath);
}
