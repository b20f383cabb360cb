// The built bundle (make install): one minified IIFE script that parses, one stylesheet whose
// fonts are beside it, and the licences of what is bundled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(here, '../../../static/vendor/designer');
const built = fs.existsSync(path.join(out, 'designer.js'));
const skip = built ? false : 'the bundle is not built: run make install';

test('designer.js parses as one script that defines window.MotcuaDesigner', { skip }, () => {
  const code = fs.readFileSync(path.join(out, 'designer.js'), 'utf8');
  assert.doesNotThrow(() => new vm.Script(code, { filename: 'designer.js' }));
  assert.match(code.slice(0, 200), /^(\/\*[^]*?\*\/\s*)?("use strict";)?\(\(\)=>\{/, 'an IIFE');
  assert.ok(code.includes('MotcuaDesigner'));
  assert.ok(!/\brequire\(["']/.test(code), 'nothing left to require at run time');
  // Minified: well under what the unminified libraries weigh (about 5 MB).
  assert.ok(code.length < 3 * 1024 * 1024, `designer.js is ${code.length} bytes`);
});

test('designer.js runs up to mounting: it needs only a DOM and finds nothing to mount', { skip }, () => {
  const code = fs.readFileSync(path.join(out, 'designer.js'), 'utf8');
  const listeners = {};
  const document = {
    readyState: 'complete',
    addEventListener: (type, listener) => { listeners[type] = listener; },
    querySelectorAll: () => [],
    createElement: () => ({ style: {}, setAttribute() {}, appendChild() {} }),
    documentElement: { style: {} }
  };
  const window = { document, addEventListener: () => {}, navigator: { userAgent: 'node', platform: 'node' } };
  window.window = window;
  const context = vm.createContext({ window, document, navigator: window.navigator, console, setTimeout, clearTimeout });
  new vm.Script(code).runInContext(context);
  assert.equal(typeof window.MotcuaDesigner, 'object');
  assert.equal(typeof window.MotcuaDesigner.lintIssues, 'function');
  assert.equal(JSON.stringify(window.MotcuaDesigner.lintIssues()), '[]');
  assert.equal(window.MotcuaDesigner.modeler, null);
  assert.equal(typeof listeners.keydown, 'function', 'Ctrl+S is listened for');
});

test('designer.css is built with the fonts it names', { skip }, () => {
  const css = fs.readFileSync(path.join(out, 'designer.css'), 'utf8');
  assert.ok(css.includes('.motcua-problem'));
  assert.ok(css.includes('.bjsl-overlay'), 'the lint overlay styles');
  assert.ok(css.includes('.bio-properties-panel'), 'the properties panel styles');
  const fonts = Array.from(css.matchAll(/url\(["']?(?:\.\/)?(fonts\/[^"')?#]+)/g), (match) => match[1]);
  assert.ok(fonts.some((font) => font.endsWith('.woff2')), 'the bpmn icon font');
  for (const font of fonts) {
    assert.ok(fs.existsSync(path.join(out, font)), `${font} is missing`);
  }
});

test('the licences of the bundled libraries are beside the bundle', { skip }, () => {
  const legal = fs.readFileSync(path.join(out, 'designer.js.LEGAL.txt'), 'utf8');
  assert.ok(legal.length > 0);
  assert.ok(fs.readFileSync(path.join(out, 'designer.js'), 'utf8').includes('designer.js.LEGAL.txt'));
});
