#!/usr/bin/env node
// Registers tsx so the CLI runs straight from TypeScript sources: no build step between `npm ci` and `npx otwin`.
import { register } from 'tsx/esm/api';

register();
await import('../harness/cli/main.ts');
