import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StagepushError, formatError } from '../src/errors.js';

test('formatError: each problem names its file, entry and field once; a message that starts with its file does not name it again', () => {
  const err = new StagepushError('PUSH_INVALID_INPUT', 'the staging area has 2 problem(s); nothing was pushed', {
    kind: 'invalid',
    problems: [
      { code: 'RPM_TRUNCATED', file: 'area/el9/RPMS/bad.rpm', message: 'area/el9/RPMS/bad.rpm: truncated: the lead needs 96 bytes but the file has 5' },
      { code: 'PUSH_UNSIGNED', file: 'area/el9/RPMS/u.rpm', entry: 'u.rpm', field: 'signing_key', message: 'not signed (allow_unsigned is false)' },
      { code: 'X', file: 'a.yaml', message: 'a.yaml.bak: is not the file' },
    ],
    hint: 'fix them',
  });
  assert.equal(
    formatError(err),
    [
      'error [PUSH_INVALID_INPUT]: the staging area has 2 problem(s); nothing was pushed',
      '  - [RPM_TRUNCATED] area/el9/RPMS/bad.rpm: truncated: the lead needs 96 bytes but the file has 5',
      '  - [PUSH_UNSIGNED] area/el9/RPMS/u.rpm: u.rpm: signing_key: not signed (allow_unsigned is false)',
      '  - [X] a.yaml: a.yaml.bak: is not the file',
      'hint: fix them',
    ].join('\n'),
  );
});
