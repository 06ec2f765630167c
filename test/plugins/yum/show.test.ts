import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CallConfig } from '../../../src/engine/config.js';
import { publishedView } from '../../../src/plugins/yum/show.js';

const env = { publishRoot: '/srv/pub', baseUrls: { http: 'http://repos.example.com' } };

test('repo show .repo snippet: gpgcheck with the published key; repo_gpgcheck=1 when repomd.xml is signed; one name line whatever the display name holds', () => {
  const snippet = (config: Record<string, unknown>, displayName = 'Tools') => publishedView({ id: 'tools', displayName }, new CallConfig({}, config), env).repo_snippet;
  const key = '-----BEGIN PGP PUBLIC KEY BLOCK-----\nx\n-----END PGP PUBLIC KEY BLOCK-----\n';
  assert.equal(snippet({}), '[tools]\nname=Tools\nbaseurl=http://repos.example.com/tools/\nenabled=1\ngpgcheck=0\n');
  assert.equal(snippet({ gpgkey: key }), '[tools]\nname=Tools\nbaseurl=http://repos.example.com/tools/\nenabled=1\ngpgcheck=1\ngpgkey=http://repos.example.com/tools/repodata/repomd.xml.key\n');
  assert.equal(
    snippet({ gpgkey: key, gpg_sign_metadata: true, gpg_key_id: 'ABCD1234' }),
    '[tools]\nname=Tools\nbaseurl=http://repos.example.com/tools/\nenabled=1\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey=http://repos.example.com/tools/repodata/repomd.xml.key\n',
  );
  const forged = snippet({}, 'Tools\ngpgcheck=0\n[extra]\nbaseurl=http://mirror.invalid/');
  assert.equal(forged.split('\n').filter((l) => l.startsWith('[')).length, 1, forged);
  assert.match(forged, /^name=Tools gpgcheck=0 \[extra\] baseurl=http:\/\/mirror\.invalid\/$/m);
});
