/** rpm's version segment comparison (rpmvercmp), including `~` (sorts before) and `^` (sorts after). */

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}
function isAlpha(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
function isAlnum(c: string): boolean {
  return isDigit(c) || isAlpha(c);
}

/** -1, 0 or 1 as rpmvercmp(a, b). */
export function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while (i < a.length && !isAlnum(a[i]!) && a[i] !== '~' && a[i] !== '^') i++;
    while (j < b.length && !isAlnum(b[j]!) && b[j] !== '~' && b[j] !== '^') j++;
    const ca = a[i] ?? '';
    const cb = b[j] ?? '';
    if (ca === '~' || cb === '~') {
      if (ca !== '~') return 1;
      if (cb !== '~') return -1;
      i++;
      j++;
      continue;
    }
    if (ca === '^' || cb === '^') {
      if (ca === '') return -1;
      if (cb === '') return 1;
      if (ca !== '^') return 1;
      if (cb !== '^') return -1;
      i++;
      j++;
      continue;
    }
    if (ca === '' || cb === '') break;
    let ei = i;
    let ej = j;
    const isNum = isDigit(ca);
    if (isNum) {
      while (ei < a.length && isDigit(a[ei]!)) ei++;
      while (ej < b.length && isDigit(b[ej]!)) ej++;
    } else {
      while (ei < a.length && isAlpha(a[ei]!)) ei++;
      while (ej < b.length && isAlpha(b[ej]!)) ej++;
    }
    if (ej === j) return isNum ? 1 : -1;
    let sa = a.slice(i, ei);
    let sb = b.slice(j, ej);
    if (isNum) {
      sa = sa.replace(/^0+/, '');
      sb = sb.replace(/^0+/, '');
      if (sa.length > sb.length) return 1;
      if (sb.length > sa.length) return -1;
    }
    if (sa !== sb) return sa < sb ? -1 : 1;
    i = ei;
    j = ej;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i < a.length ? 1 : -1;
}
