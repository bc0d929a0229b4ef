import { Token, TokenKind } from "./types";

export class TokenizeError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
    this.name = "TokenizeError";
  }
}

const OPERATORS = ["==", "!=", "<=", ">=", "&&", "||", "+", "-", "*", "/", "%", "<", ">", "=", "!", ","];

const isDigit = (ch: string): boolean => ch >= "0" && ch <= "9";
const isIdentStart = (ch: string): boolean => /^[A-Za-z_]$/.test(ch);
const isIdentPart = (ch: string): boolean => /^[A-Za-z0-9_]$/.test(ch);

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const ch = source.charAt(i);
    const start = i;
    if (ch === " " || ch === "\t" || ch === "\n" || ch === "\r") {
      i += 1;
      continue;
    }
    if (isDigit(ch)) {
      while (isDigit(source.charAt(i))) {
        i += 1;
      }
      if (source.charAt(i) === "." && isDigit(source.charAt(i + 1))) {
        i += 1;
        while (isDigit(source.charAt(i))) {
          i += 1;
        }
      }
      tokens.push(token("number", source.slice(start, i), start));
      continue;
    }
    if (isIdentStart(ch)) {
      while (i < source.length && isIdentPart(source.charAt(i))) {
        i += 1;
      }
      tokens.push(token("identifier", source.slice(start, i), start));
      continue;
    }
    if (ch === '"') {
      i += 1;
      while (i < source.length && source.charAt(i) !== '"') {
        i += 1;
      }
      if (i >= source.length) {
        throw new TokenizeError(`unterminated string starting at ${start}`, start);
      }
      tokens.push(token("string", source.slice(start + 1, i), start));
      i += 1;
      continue;
    }
    if (ch === "(" || ch === ")") {
      tokens.push(token(ch === "(" ? "lparen" : "rparen", ch, start));
      i += 1;
      continue;
    }
    const op = OPERATORS.find((o) => source.startsWith(o, i));
    if (op !== undefined) {
      tokens.push(token("operator", op, start));
      i += op.length;
      continue;
    }
    throw new TokenizeError(`unexpected character "${ch}" at ${start}`, start);
  }
  return tokens;
}

function token(kind: TokenKind, value: string, position: number): Token {
  return { kind, value, position };
}
