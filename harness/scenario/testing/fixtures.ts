/** Test fixtures for scenario parsing and validation. */
import { parseScenarioText, ScenarioError } from '../parse.ts';

/** The ScenarioError that parsing `text` as `file` throws; throws if it parses or fails otherwise. */
export function scenarioErrorOf(text: string, file: string): ScenarioError {
  try {
    parseScenarioText(text, file);
  } catch (err) {
    if (err instanceof ScenarioError) return err;
    throw err;
  }
  throw new Error('expected a ScenarioError');
}
