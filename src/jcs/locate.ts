/**
 * Scanning valid JSON text by index without parsing it, so a message can be edited in
 * place (a member added, an array element cut) while every other byte stays as sent. The
 * text must already be valid JSON (the caller has parsed it). Runtime-neutral.
 */

/** Index of the first non-whitespace character at or after `i`. */
export function skipWs(text: string, i: number): number {
  while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  return i;
}

/** Index just past the string literal starting at `i`. */
export function skipString(text: string, i: number): number {
  for (i++; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i + 1;
  }
  return i;
}

/** Index just past the JSON value starting at `i`. */
export function skipValue(text: string, i: number): number {
  if (text[i] === '"') return skipString(text, i);
  if (text[i] !== '{' && text[i] !== '[') {
    while (i < text.length && !',}] \t\n\r'.includes(text[i]!)) i++;
    return i;
  }
  let depth = 0;
  for (; i < text.length; i++) {
    const c = text[i];
    if (c === '"') i = skipString(text, i) - 1;
    else if (c === '{' || c === '[') depth++;
    else if ((c === '}' || c === ']') && --depth === 0) return i + 1;
  }
  return i;
}

/** Start index of the value of member `key` of the object opening at `open`, or -1. */
export function memberStart(text: string, open: number, key: string): number {
  let found = -1;
  let i = skipWs(text, open + 1);
  while (i < text.length && text[i] === '"') {
    const end = skipString(text, i);
    const name = JSON.parse(text.slice(i, end)) as string;
    const value = skipWs(text, skipWs(text, end) + 1);
    if (name === key) found = value;
    i = skipWs(text, skipValue(text, value));
    if (text[i] === ',') i = skipWs(text, i + 1);
  }
  return found;
}
