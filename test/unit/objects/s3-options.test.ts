import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../gateway/src/config/load.js';
import { s3StoreOptions } from '../../../gateway/src/objects/s3-options.js';

describe('objects: s3 store options', () => {
  it('s3 options: the config fields map onto the store options, keys only as a pair', () => {
    const config = parseConfig({ s3Endpoint: 'http://127.0.0.1:9000', s3Region: 'eu-west-1', s3ForcePathStyle: true, s3AccessKeyId: 'AK', s3SecretAccessKey: 'SK', s3RequestTimeoutMs: 4000, s3FirstByteTimeoutMs: 1500 });
    expect(s3StoreOptions(config)).toEqual({
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' },
      requestTimeoutMs: 4000,
      firstByteTimeoutMs: 1500,
    });
  });

  it('s3 options: without both keys the SDK credential chain is used (credentials undefined)', () => {
    expect(s3StoreOptions({ ...parseConfig({}), s3AccessKeyId: 'AK' }).credentials).toBeUndefined();
    expect(s3StoreOptions(parseConfig({})).credentials).toBeUndefined();
  });
});
