#!/usr/bin/env node
// The tftpfn command. The TypeScript sources are built to dist/ by `npm install` (prepare).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const main = new URL('../dist/gateway/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  console.error('tftpfn: dist/ is missing; run `npm install` (or `npm run build`) in the tftpfn checkout first.');
  process.exit(1);
}
await import(main.href);
