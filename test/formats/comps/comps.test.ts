import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseComps, writeComps, type Comps } from '../../../src/formats/comps/index.js';
import { StagepushError } from '../../../src/errors.js';

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

test('comps round trip', () => {
  const xml = writeComps(COMPS);
  assert.deepEqual(parseComps(xml), COMPS);
  assert.match(xml, /<name xml:lang="pt_BR">Ferramentas &lt;alpha&gt;<\/name>/);
  assert.match(xml, /<packagereq type="conditional" requires="alpha">cond<\/packagereq>/);
  assert.deepEqual(parseComps(writeComps({})), { groups: [], categories: [], environments: [], langpacks: [] });
});

test('bad comps are refused with coded errors', () => {
  const bad = (xml: string, field: string) =>
    assert.throws(() => parseComps(xml, 'c.xml'), (e: unknown) => e instanceof StagepushError && e.code === 'COMPS_INVALID' && e.file === 'c.xml' && (e.field ?? '') === field);
  bad('<comps><group><name>x</name></group></comps>', 'group.id');
  bad('<comps><group><id>g</id><default>maybe</default></group></comps>', 'default');
  bad('<comps><group><id>g</id><packagelist><packagereq type="weird">p</packagereq></packagelist></group></comps>', 'packagereq.type');
  bad('<comps><category><id>c</id><display_order>x</display_order></category></comps>', 'display_order');
  bad('<notcomps/>', '');
});
