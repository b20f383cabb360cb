// The tokenizer behind script-sandbox and timer-expression: no false alarms on ordinary task-data
// code, and the sandbox's refusals found.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { sandboxProblems, tokenize } = require('../lib/python-source.js');
const { DEFAULT_BUILTINS, DEFAULT_FUNCTIONS } = require('../lib/dialect.js');

const options = (mode) => ({ mode, functions: new Set(DEFAULT_FUNCTIONS), builtins: new Set(DEFAULT_BUILTINS) });

test('ordinary scripts and conditions pass', () => {
  const fine = [
    [ 'exec', 'x = {"a": [1, 2, (3, 4)]}\ny = x.get("a")[0]' ],
    [ 'eval', "reception_decision == 'accept'" ],
    [ 'eval', "status in ('a', 'b') and not flags.get('x', False)" ],
    [ 'eval', 'input_value >= 3 or type_of_case != "x"' ],
    [ 'exec', 'total = 0\nfor fee in fees:\n    total += fee["amount"]\nreceipt = f"{total:,} VND"' ],
    [ 'exec', 'def double(n):\n    return n * 2\nvalues = [double(v) for v in range(3)]' ],
    [ 'exec', "text = r'\\d+' + 'it\\'s'" ],
    [ 'exec', 'hạn_xử_lý = add_working_days(received_at, 5)' ],
    [ 'eval', 'dict(process_flags, done=True)' ]
  ];
  for (const [ mode, source ] of fine) {
    assert.deepEqual(sandboxProblems(source, options(mode)), [], source);
  }
});

test('data names that look like forbidden ones are fine; only the names themselves are refused', () => {
  assert.deepEqual(sandboxProblems('open_count = len(opened)', options('exec')), []);
  assert.deepEqual(sandboxProblems('x = data.open', options('exec')), []);
  assert.deepEqual(sandboxProblems('f = open', options('exec')), [ 'line 1: "open" is not allowed' ]);
});

test('refusals name the line', () => {
  assert.deepEqual(sandboxProblems('a = 1\nimport os', options('exec')), [ 'line 2: import statements are not allowed' ]);
  assert.deepEqual(sandboxProblems('a = 1\nfrom os import path', options('exec')), [ 'line 2: import statements are not allowed' ]);
  assert.deepEqual(sandboxProblems('try:\n    a = 1\nexcept:\n    pass', options('exec')), [ 'line 1: "try" statements are not allowed' ]);
  assert.deepEqual(sandboxProblems('x = 1\ny = helper(x)', options('exec')), [ 'line 2: "helper()" is neither a dialect function nor a builtin' ]);
  assert.deepEqual(sandboxProblems('x = __import__("os")', options('exec')), [ 'line 1: the name "__import__" is not allowed (starts with "_")' ]);
});

test('syntax: unbalanced brackets and quotes, smart quotes', () => {
  assert.deepEqual(tokenize('f(a]').problems, [ 'line 1: "]" does not match "(" opened on line 1' ]);
  assert.deepEqual(tokenize("x == 'a").problems, [ "line 1: a string is not closed (missing ')" ]);
  assert.deepEqual(tokenize('x == “a”').problems, [ 'line 1: unexpected character "“"', 'line 1: unexpected character "”"' ]);
  assert.deepEqual(tokenize('s = """a\n(b"""\nt = (1,\n2)').problems, []);
});
