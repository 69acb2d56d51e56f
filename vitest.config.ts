import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  // Function examples and embedding tests import the package by name, as its users do.
  resolve: {
    alias: [
      { find: /^tftpfn\/sdk$/, replacement: here('./sdk/index.ts') },
      { find: /^tftpfn\/client$/, replacement: here('./client/index.ts') },
      { find: /^tftpfn$/, replacement: here('./gateway/src/index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts', 'functions/**/*.test.ts'],
    // Real firmware in QEMU, in a private network namespace: vitest.boot.config.ts, scripts/test-boot.sh.
    exclude: [...configDefaults.exclude, 'test/boot/**'],
    // Unit tests finish in milliseconds; integration and interop tests start real servers,
    // worker threads and client processes, so they get a generous per-test bound.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration tests bind sockets and spawn processes: isolate them in child processes.
    pool: 'forks',
  },
});
