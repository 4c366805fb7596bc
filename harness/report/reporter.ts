/**
 * What the scenario engine reports through while it runs: nested steps and attachments. The vitest
 * runner backs it with Allure (allure-js-commons); unit tests back it with a recorder.
 */
export interface Attachment {
  name: string;
  content: string | Buffer;
  /** MIME type: text/markdown, text/html, application/vnd.tcpdump.pcap, application/json, text/plain. */
  type: string;
}

export interface StepReporter {
  step<T>(name: string, body: () => Promise<T>): Promise<T>;
  attach(attachment: Attachment): Promise<void>;
  /** A line of progress for the console (and the step log). */
  log(message: string): void;
}

/** Collects steps and attachments in memory (tests, replay without Allure). */
export class MemoryReporter implements StepReporter {
  readonly steps: Array<{ name: string; depth: number; status: 'passed' | 'failed'; error?: string }> = [];
  readonly attachments: Attachment[] = [];
  readonly lines: string[] = [];
  private depth = 0;

  async step<T>(name: string, body: () => Promise<T>): Promise<T> {
    const entry: { name: string; depth: number; status: 'passed' | 'failed'; error?: string } = {
      name,
      depth: this.depth,
      status: 'passed',
    };
    this.steps.push(entry);
    this.depth += 1;
    try {
      return await body();
    } catch (err) {
      entry.status = 'failed';
      entry.error = err instanceof Error ? err.message : String(err);
      throw err;
    } finally {
      this.depth -= 1;
    }
  }

  async attach(attachment: Attachment): Promise<void> {
    this.attachments.push(attachment);
  }

  log(message: string): void {
    this.lines.push(message);
  }
}
