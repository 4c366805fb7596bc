import { describe, expect, it } from 'vitest';
import { maskSecrets } from './mask.ts';

describe('maskSecrets (topology attached to reports)', () => {
  it('masks token flags and assignments on command lines, keeps file paths', () => {
    const text = [
      '      cmd: exec node directory.ts --token otf-lab-token --port 8080',
      '      cmd: exec env DIRECTORY_TOKEN=abc123 node controller.ts --db-password="p w" --token-file labs/x/token',
      '        - ip addr add 10.0.1.2/30 dev eth1',
    ].join('\n');
    const masked = maskSecrets(text);
    expect(masked).not.toMatch(/otf-lab-token|abc123|p w/);
    expect(masked).toContain('--token *** --port 8080');
    expect(masked).toContain('DIRECTORY_TOKEN=***');
    expect(masked).toContain('--token-file labs/x/token');
    expect(masked).toContain('ip addr add 10.0.1.2/30 dev eth1');
  });

  it('masks env values whose key names a secret, not other keys or comments', () => {
    const text = [
      '      env:',
      '        DIRECTORY_TOKEN: s3cret',
      '        API_KEY: "k"',
      '        OTWIN_SABOTAGE: delay-route',
      '        SECRET_FILE: /run/secret',
      '# the token lives in a file',
    ].join('\n');
    const masked = maskSecrets(text);
    expect(masked).toContain("DIRECTORY_TOKEN: '***'");
    expect(masked).toContain("API_KEY: '***'");
    expect(masked).toContain('OTWIN_SABOTAGE: delay-route');
    expect(masked).toContain('SECRET_FILE: /run/secret');
    expect(masked).toContain('# the token lives in a file');
  });
});
