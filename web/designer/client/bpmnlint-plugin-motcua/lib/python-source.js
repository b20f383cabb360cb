'use strict';

/**
 * A small look at the Python that process files carry (scripts, conditions, timer expressions,
 * message payloads), to show the sandbox's refusals while the designer draws.
 *
 * This is a tokenizer, not a parser: the server check compiles every snippet with the real
 * sandbox (RestrictedPython) and stays the authority. Here we only report what is certain from
 * the tokens: unbalanced brackets and quotes, `import`, names and attributes starting with `_`,
 * the forbidden names, and *calls* to names that are neither dialect functions, builtins nor
 * defined in the script. Plain data names (task data) are always allowed.
 */

// Keep in step with engine/sandbox.py FORBIDDEN_NAMES.
const FORBIDDEN_NAMES = new Set([
  'open', 'eval', 'exec', 'compile', 'getattr', 'setattr', 'delattr', 'hasattr', 'type', 'globals',
  'locals', 'vars', 'dir', 'help', 'input', 'breakpoint', 'memoryview', 'exit', 'quit', 'print',
  'printed'
]);

const FORBIDDEN_ATTRIBUTES = new Set([ 'format', 'format_map', 'mro' ]);

// Statements the sandbox refuses outright (docs/sandbox.md).
const FORBIDDEN_KEYWORDS = new Set([ 'try', 'with', 'class', 'async', 'await', 'nonlocal' ]);

const KEYWORDS = new Set([
  'False', 'None', 'True', 'and', 'as', 'assert', 'async', 'await', 'break', 'class', 'continue',
  'def', 'del', 'elif', 'else', 'except', 'finally', 'for', 'from', 'global', 'if', 'import', 'in',
  'is', 'lambda', 'nonlocal', 'not', 'or', 'pass', 'raise', 'return', 'try', 'while', 'with', 'yield'
]);

const OPENERS = { '(': ')', '[': ']', '{': '}' };
const CLOSERS = { ')': '(', ']': '[', '}': '{' };

const NAME = /[\p{L}_][\p{L}\p{N}_]*/uy;
const STRING_START = /([rRbBuUfF]{0,2})('''|"""|'|")/y;
const NUMBER = /(?:0[xXoObB][0-9a-fA-F_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?[jJ]?)/y;
const OPERATOR = /\*\*=?|\/\/=?|<<=?|>>=?|->|:=|[-+*/%@&|^<>=!]=|[-+*/%@&|^~<>=.,:;]/y;

/**
 * Split `source` into tokens. Returns `{ tokens, problems }` where each token is
 * `{ type: 'name'|'string'|'number'|'op'|'newline', value, line }`, f-string tokens carry the
 * `{...}` parts in `expressions`, and problems are syntax messages (`line N: ...`).
 */
function tokenize(source) {
  const tokens = [];
  const problems = [];
  const stack = [];
  let line = 1;
  let index = 0;

  const at = (regexp) => {
    regexp.lastIndex = index;
    const match = regexp.exec(source);
    return match && match.index === index ? match : null;
  };

  while (index < source.length) {
    const char = source[index];

    if (char === '\n') {
      if (!stack.length) {
        tokens.push({ type: 'newline', value: '\n', line });
      }
      line++;
      index++;
      continue;
    }
    if (char === ' ' || char === '\t' || char === '\r' || char === '\f') {
      index++;
      continue;
    }
    if (char === '\\' && source[index + 1] === '\n') {
      line++;
      index += 2;
      continue;
    }
    if (char === '#') {
      while (index < source.length && source[index] !== '\n') {
        index++;
      }
      continue;
    }

    const string = at(STRING_START);
    if (string) {
      const scanned = scanString(source, index + string[0].length, string[2], line);
      const token = { type: 'string', value: source.slice(index, scanned.end), line };
      if (/f/i.test(string[1])) {
        token.expressions = fStringExpressions(source.slice(index + string[0].length, scanned.contentEnd), line);
      }
      tokens.push(token);
      if (scanned.unterminated) {
        problems.push(`line ${line}: a string is not closed (missing ${string[2]})`);
      }
      line = scanned.line;
      index = scanned.end;
      continue;
    }

    const name = at(NAME);
    if (name) {
      tokens.push({ type: 'name', value: name[0], line });
      index += name[0].length;
      continue;
    }

    const number = at(NUMBER);
    if (number && number[0] !== '.') {
      tokens.push({ type: 'number', value: number[0], line });
      index += number[0].length;
      continue;
    }

    if (OPENERS[char]) {
      stack.push({ char, line });
      tokens.push({ type: 'op', value: char, line });
      index++;
      continue;
    }
    if (CLOSERS[char]) {
      const open = stack.pop();
      if (!open) {
        problems.push(`line ${line}: "${char}" closes nothing`);
      } else if (open.char !== CLOSERS[char]) {
        problems.push(`line ${line}: "${char}" does not match "${open.char}" opened on line ${open.line}`);
      }
      tokens.push({ type: 'op', value: char, line });
      index++;
      continue;
    }

    const operator = at(OPERATOR);
    if (operator) {
      tokens.push({ type: 'op', value: operator[0], line });
      index += operator[0].length;
      continue;
    }

    problems.push(`line ${line}: unexpected character "${char}"`);
    index++;
  }

  for (const open of stack) {
    problems.push(`line ${open.line}: "${open.char}" is never closed`);
  }

  return { tokens, problems };
}

function scanString(source, start, quote, line) {
  let index = start;
  let currentLine = line;
  const triple = quote.length === 3;
  while (index < source.length) {
    const char = source[index];
    if (char === '\\') {
      if (source[index + 1] === '\n') {
        currentLine++;
      }
      index += 2;
      continue;
    }
    if (char === '\n') {
      if (!triple) {
        return { end: index, contentEnd: index, line: currentLine, unterminated: true };
      }
      currentLine++;
    }
    if (source.startsWith(quote, index)) {
      return { end: index + quote.length, contentEnd: index, line: currentLine, unterminated: false };
    }
    index++;
  }
  return { end: source.length, contentEnd: source.length, line: currentLine, unterminated: true };
}

/** The code inside an f-string's replacement fields; `{{` and `}}` are literal braces. */
function fStringExpressions(content, line) {
  const expressions = [];
  let depth = 0;
  let current = '';
  for (let index = 0; index < content.length; index++) {
    const char = content[index];
    if (depth === 0) {
      if (char === '{' && content[index + 1] === '{') {
        index++;
      } else if (char === '{') {
        depth = 1;
        current = '';
      }
      continue;
    }
    if (char === '{') {
      depth++;
    } else if (char === '}') {
      depth--;
      if (depth === 0) {
        expressions.push({ source: current.replace(/(![rsa])?(:[^]*)?$/, ''), line });
        continue;
      }
    }
    current += char;
  }
  return expressions;
}

/** Names a script defines itself and may therefore call: `def f(...)`, `f = lambda`, parameters. */
function definedNames(tokens) {
  const defined = new Set();
  tokens.forEach((token, index) => {
    const next = tokens[index + 1];
    if (token.type === 'name' && token.value === 'def' && next && next.type === 'name') {
      defined.add(next.value);
      let depth = 0;
      for (let inner = index + 2; inner < tokens.length; inner++) {
        const value = tokens[inner].value;
        if (value === '(') {
          depth++;
        } else if (value === ')') {
          depth--;
          if (depth === 0) {
            break;
          }
        } else if (tokens[inner].type === 'name' && depth === 1) {
          defined.add(value);
        }
      }
    }
    if (token.type === 'name' && token.value === 'lambda') {
      for (let inner = index + 1; inner < tokens.length && tokens[inner].value !== ':'; inner++) {
        if (tokens[inner].type === 'name') {
          defined.add(tokens[inner].value);
        }
      }
      const equals = tokens[index - 1];
      const target = tokens[index - 2];
      if (equals && equals.value === '=' && target && target.type === 'name') {
        defined.add(target.value);
      }
    }
  });
  return defined;
}

/**
 * The sandbox problems of `source` (`line N: ...`).
 *
 * @param {string} source
 * @param {{ mode: 'exec'|'eval', functions: Set<string>, builtins: Set<string>, syntax?: boolean }} options
 *   `syntax: false` leaves bracket/quote problems to the caller (the timer rule reports those).
 */
function sandboxProblems(source, options) {
  const { tokens, problems: syntaxProblems } = tokenize(source);
  // Like Python, only the first syntax error: the others usually follow from it.
  const problems = options.syntax === false ? [] : syntaxProblems.slice(0, 1);
  checkTokens(tokens, options, definedNames(tokens), problems, 0);
  return unique(problems);
}

function checkTokens(tokens, options, defined, problems, lineOffset) {
  let depth = 0;
  tokens.forEach((token, index) => {
    const previous = tokens[index - 1];
    const next = tokens[index + 1];
    const line = token.line + lineOffset;
    const afterDot = previous && previous.type === 'op' && previous.value === '.';

    if (token.type === 'op') {
      if (OPENERS[token.value]) {
        depth++;
      } else if (CLOSERS[token.value]) {
        depth = Math.max(0, depth - 1);
      } else if (token.value === '=' && options.mode === 'eval' && depth === 0) {
        problems.push(`line ${line}: "=" assigns; an expression compares with "=="`);
      }
      return;
    }

    if (token.type === 'string') {
      for (const expression of token.expressions || []) {
        const inner = tokenize(expression.source).tokens;
        checkTokens(inner, { ...options, mode: 'eval' }, defined, problems, line - 1);
      }
      return;
    }

    if (token.type !== 'name') {
      return;
    }

    const name = token.value;
    if (afterDot) {
      if (name.startsWith('_')) {
        problems.push(`line ${line}: the attribute "${name}" is not allowed (starts with "_")`);
      } else if (FORBIDDEN_ATTRIBUTES.has(name)) {
        problems.push(`line ${line}: the attribute "${name}" is not allowed`);
      }
      return;
    }
    if (name === 'import') {
      problems.push(`line ${line}: import statements are not allowed`);
      return;
    }
    if (FORBIDDEN_KEYWORDS.has(name)) {
      problems.push(`line ${line}: "${name}" statements are not allowed`);
      return;
    }
    if (KEYWORDS.has(name)) {
      return;
    }
    if (name.startsWith('_')) {
      problems.push(`line ${line}: the name "${name}" is not allowed (starts with "_")`);
      return;
    }
    if (FORBIDDEN_NAMES.has(name)) {
      problems.push(`line ${line}: "${name}" is not allowed`);
      return;
    }
    const isCall = next && next.type === 'op' && next.value === '(';
    const isDefinition = previous && previous.type === 'name' && previous.value === 'def';
    if (isCall && !isDefinition && !options.functions.has(name) && !options.builtins.has(name) && !defined.has(name)) {
      problems.push(`line ${line}: "${name}()" is neither a dialect function nor a builtin`);
    }
  });
}

function unique(messages) {
  return Array.from(new Set(messages));
}

module.exports = { FORBIDDEN_NAMES, sandboxProblems, tokenize };
