// Prints the plain closing line CI reads (`N passed, N failed, N skipped`) from vitest's JSON report,
// and exits non-zero when anything failed or nothing passed: a run that checked nothing is no pass.
// A test file that failed to load (no assertions ran) counts as one failure.
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? 'reports/vitest.json';
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch {
  console.error(`no test report at ${file}`);
  console.log('0 passed, 1 failed, 0 skipped');
  process.exit(1);
}
const passed = report.numPassedTests ?? 0;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
const unloadedFiles = (report.testResults ?? []).filter(
  (result) => result.status === 'failed' && (result.assertionResults ?? []).length === 0,
).length;
const failed = (report.numFailedTests ?? 0) + unloadedFiles;
if (passed === 0) console.error(`nothing passed in ${file}: a test run that checked nothing is not a pass`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
