/**
 * The boot tests (test/boot): real firmware and boot loaders in QEMU, netbooting through the
 * gateway. They need root, /dev/net/tun and a private network namespace, so they are not in the
 * default project; scripts/test-boot.sh runs them with this config inside `unshare -n`, and
 * scripts/test.sh runs that after the main suite.
 */
import { configDefaults, defineConfig } from 'vitest/config';
import base from './vitest.config.js';

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    // Replaced, not merged: this project runs the boot tests and nothing else.
    include: ['test/boot/**/*.test.ts'],
    exclude: [...configDefaults.exclude],
    // One boot takes 11-15 s under software emulation; the UEFI and BIOS files run side by side.
    testTimeout: 300_000,
    hookTimeout: 120_000,
  },
});
