/** StepReporter backed by Allure (allure-js-commons): steps become Allure steps, attachments attach. */
import * as allure from 'allure-js-commons';
import type { Attachment, StepReporter } from './reporter.ts';

export class AllureStepReporter implements StepReporter {
  constructor(private readonly echo: (line: string) => void = () => undefined) {}

  step<T>(name: string, body: () => Promise<T>): Promise<T> {
    return allure.step(name, () => body()) as Promise<T>;
  }

  async attach(attachment: Attachment): Promise<void> {
    await allure.attachment(attachment.name, attachment.content, attachment.type);
  }

  log(message: string): void {
    this.echo(message);
    void allure.logStep(message);
  }
}
