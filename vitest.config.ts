import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Unit tests finish in milliseconds; integration and interop tests start real servers,
    // worker threads and client processes, so they get a generous per-test bound.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration tests bind sockets and spawn processes: isolate them in child processes.
    pool: 'forks',
  },
});
