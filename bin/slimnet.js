#!/usr/bin/env node
// slimnet is written in TypeScript and run through tsx's loader, so the
// package needs no separate compile step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
