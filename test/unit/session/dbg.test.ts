import { it } from 'vitest';
import { Opcode } from '../../../gateway/src/protocol/packet.js';
import { ReadPair, testFile } from '../../helpers/fake-link.js';
it('dbg', () => {
  const file = testFile(200 * 1024, 3);
  const pair = new ReadPair({ file, session: { blockSize: 1024, windowSize: 16, oack: { blksize: '1024', windowsize: '16' }, maxRetries: 20 }, link: { seed: 11, lossRate: 0.01 }, maxSteps: 2_000_000 });
  const r = pair.run();
  const lines = pair.link.trace.map((t) => `${t.sentAt} ${t.dir === 'toClient' ? '>' : '<'} ${t.key} ${t.fate === 'dropped' ? 'X' : ''}`);
  console.log(r.outcome, r.now, lines.length);
  console.log(lines.slice(0, 400).join('\n'));
});
