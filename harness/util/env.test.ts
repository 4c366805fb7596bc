import { describe, expect, it } from 'vitest';
import { otwinEnv } from './env.ts';

describe('otwinEnv', () => {
  it('reads OTWIN_<name> first, then the deprecated OTF_/OTD_ spelling', () => {
    expect(otwinEnv('KEEP_LAB', { OTWIN_KEEP_LAB: '1', OTF_KEEP_LAB: '0' })).toBe('1');
    expect(otwinEnv('KEEP_LAB', { OTF_KEEP_LAB: '0' })).toBe('0');
    expect(otwinEnv('KEEP_PCAP', { OTD_KEEP_PCAP: 'yes' })).toBe('yes');
    expect(otwinEnv('KEEP_PCAP', {})).toBeUndefined();
  });
});
