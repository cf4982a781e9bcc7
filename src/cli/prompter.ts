import { cancelled } from '../consent/errors.js';
import type { Readable } from 'node:stream';
import type { OutStream } from './deps.js';

export interface Choice<T extends string> {
  value: T;
  name: string;
  checked?: boolean;
}

/** The prompts commands may ask. Tests replace it; only a terminal gets the real one. */
export interface Prompter {
  checkbox<T extends string>(message: string, choices: readonly Choice<T>[]): Promise<T[]>;
  select<T extends string>(message: string, choices: readonly Choice<T>[]): Promise<T>;
  input(message: string, options?: { default?: string; required?: boolean }): Promise<string>;
  confirm(message: string, defaultValue?: boolean): Promise<boolean>;
}

/** @inquirer/prompts, loaded only when a prompt is really shown; prompts go to stderr. */
export function inquirerPrompter(input: Readable, output: OutStream): Prompter {
  const context = { input, output: output as NodeJS.WritableStream, clearPromptOnDone: false };
  const wrap = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      if ((e as Error)?.name === 'ExitPromptError' || (e as Error)?.name === 'AbortPromptError') throw cancelled();
      throw e;
    }
  };
  const load = () => import('@inquirer/prompts');
  return {
    checkbox: async (message, choices) =>
      wrap(async () => (await load()).checkbox({ message, choices: choices.map((c) => ({ ...c })) }, context)),
    select: async (message, choices) =>
      wrap(async () => (await load()).select({ message, choices: choices.map((c) => ({ ...c })) }, context)),
    input: async (message, options = {}) =>
      wrap(async () => (await load()).input({ message, default: options.default, required: options.required }, context)),
    confirm: async (message, defaultValue) =>
      wrap(async () => (await load()).confirm({ message, default: defaultValue }, context)),
  };
}
