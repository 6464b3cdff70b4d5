/**
 * The keys a JSON text writes more than once in one object (JSON.parse keeps the last silently, other
 * parsers the first): a log line must never have any.
 */
export function duplicateKeys(text: string): string[] {
  const stack: Set<string>[] = [];
  const dups: string[] = [];
  let i = 0;
  // Whether the string just read is an object key (followed by ':').
  while (i < text.length) {
    const c = text[i] as string;
    if (c === '{') {
      stack.push(new Set());
      i++;
    } else if (c === '}') {
      stack.pop();
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const raw = text.slice(i, j + 1);
      let k = j + 1;
      while (text[k] === ' ') k++;
      if (text[k] === ':' && stack.length > 0) {
        const key = JSON.parse(raw) as string;
        const keys = stack[stack.length - 1] as Set<string>;
        if (keys.has(key)) dups.push(key);
        keys.add(key);
      }
      i = j + 1;
    } else i++;
  }
  return dups;
}
