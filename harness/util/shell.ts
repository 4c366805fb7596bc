/** `text` as one POSIX shell word, for commands that go through `sh -c`. */
export function shq(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
