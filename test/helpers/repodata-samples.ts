/** Shared sample metadata of the format tests (an erratum, a comps document, a modules.yaml stream). */
import type { Comps } from '../../src/formats/comps/index.js';
import type { Erratum } from '../../src/formats/updateinfo/index.js';

export const ERRATUM: Erratum = {
  id: 'RHSA-2024:0001',
  type: 'security',
  status: 'final',
  version: '2',
  release: '0',
  pushcount: '1',
  issued: '2024-01-10T08:30:00Z',
  updated: '2024-01-11',
  title: 'Important: alpha security & <bug> update',
  severity: 'Important',
  summary: 'sum "q"',
  description: 'line 1\nline 2 & <x>',
  solution: 'apply',
  rights: 'Copyright 2024',
  from: 'release@example.com',
  reboot_suggested: true,
  references: [
    { href: 'https://example.com/b?x=1&y=2', id: '123', title: 'bug "1"', type: 'bugzilla' },
    { href: 'https://example.com/cve', id: 'CVE-2024-1', title: null, type: 'cve' },
  ],
  pkglist: [
    {
      name: 'col',
      short: 'c1',
      module: { name: 'mod', stream: 's1', version: '20240101', context: 'abcd', arch: 'x86_64' },
      packages: [
        { name: 'alpha', epoch: '3', version: '1.2', release: '4', arch: 'x86_64', src: 'alpha-1.2-4.src.rpm', filename: 'alpha-1.2-4.x86_64.rpm', sha256sum: 'a'.repeat(64), reboot_suggested: true },
        { name: 'gone', epoch: '0', version: '1', release: '1', arch: 'noarch', src: 'gone-1-1.src.rpm', filename: 'gone-1-1.noarch.rpm', sum: ['md5', 'b'.repeat(32), 'sha256', 'c'.repeat(64)] },
      ],
    },
    {
      name: 'empty-after-filter',
      short: '',
      packages: [{ name: 'gone2', epoch: '0', version: '1', release: '1', arch: 'noarch', src: 'x.src.rpm', filename: 'gone2-1-1.noarch.rpm' }],
    },
  ],
};

export const COMPS: Comps = {
  groups: [
    {
      id: 'alpha-tools',
      name: 'Alpha & tools',
      nameTranslations: { de: 'Alpha-Werkzeuge', 'pt_BR': 'Ferramentas <alpha>' },
      description: 'Tools for alpha',
      descriptionTranslations: { de: 'Werkzeuge' },
      default: true,
      uservisible: true,
      biarchonly: false,
      displayOrder: 5,
      langonly: null,
      packages: [
        { name: 'alpha', type: 'mandatory' },
        { name: 'tiny', type: 'default', basearchonly: true },
        { name: 'opt', type: 'optional' },
        { name: 'cond', type: 'conditional', requires: 'alpha' },
      ],
    },
    {
      id: 'hidden',
      name: 'Hidden',
      nameTranslations: {},
      description: null,
      descriptionTranslations: {},
      default: false,
      uservisible: false,
      biarchonly: null,
      displayOrder: null,
      langonly: 'fr',
      packages: [],
    },
  ],
  categories: [{ id: 'cat', name: 'Category', nameTranslations: { fr: 'Catégorie' }, description: 'c', descriptionTranslations: {}, displayOrder: 1, groups: ['alpha-tools', 'hidden'] }],
  environments: [
    {
      id: 'env',
      name: 'Environment',
      nameTranslations: {},
      description: 'e',
      descriptionTranslations: { ja: '環境' },
      displayOrder: 2,
      groups: ['alpha-tools'],
      options: [
        { id: 'hidden', default: true },
        { id: 'other', default: null },
      ],
    },
  ],
  langpacks: [{ name: 'alpha', install: 'alpha-langpack-%s' }],
};

export const MODULES_YAML = `---
document: modulemd
version: 2
data:
  name: alphamod
  stream: "1.10"
  version: 8040020210716161022
  context: abcd1234
  arch: x86_64
  summary: Alpha module
  description: >-
    An alpha module: with "quotes" & a long description.
  license:
    module: [MIT]
    content: [MIT, GPL]
  dependencies:
  - buildrequires:
      platform: [el8]
    requires:
      platform: [el8]
  profiles:
    default:
      description: Default profile
      rpms: [alpha]
    minimal:
      rpms: [tiny]
  api:
    rpms: [alpha]
  components:
    rpms:
      alpha:
        rationale: main
        ref: "1.2"
        buildorder: 10
  artifacts:
    rpms:
    - alpha-3:1.2-4.x86_64
    - alpha-3:1.2-4.src
...
---
document: modulemd-defaults
version: 1
data:
  module: alphamod
  stream: "1.10"
  profiles:
    "1.10": [default]
...
`;
