/**
 * RFC 7047 messages are JSON texts sent back to back on the stream with no delimiter (§3.1), and a
 * read may end anywhere inside one: this splitter finds where each top-level object ends by counting
 * braces outside strings, so a text split across reads, or several texts in one read, decode alike.
 */
export class JsonStreamSplitter {
  private buffer = '';
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Index in `buffer` up to which characters have been scanned. */
  private scanned = 0;

  /** Appends a chunk and returns the complete JSON texts it finished, in order. */
  push(chunk: string): string[] {
    this.buffer += chunk;
    const texts: string[] = [];
    let start = 0;
    for (let i = this.scanned; i < this.buffer.length; i++) {
      const c = this.buffer[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === '\\') this.escaped = true;
        else if (c === '"') this.inString = false;
        continue;
      }
      if (c === '"') this.inString = true;
      else if (c === '{' || c === '[') this.depth++;
      else if (c === '}' || c === ']') {
        this.depth--;
        if (this.depth === 0) {
          texts.push(this.buffer.slice(start, i + 1).trim());
          start = i + 1;
        } else if (this.depth < 0) throw new Error('OVSDB stream: unbalanced JSON (a closing bracket first)');
      }
    }
    this.buffer = this.buffer.slice(start);
    if (this.depth === 0 && !this.inString) this.buffer = this.buffer.trimStart();
    this.scanned = this.buffer.length;
    return texts;
  }
}
