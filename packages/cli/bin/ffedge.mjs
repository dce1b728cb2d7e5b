#!/usr/bin/env node
// The CLI and @ffedge/client are TypeScript sources; tsx (a dependency) compiles them as they load, so plain
// `node` runs the CLI with no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
