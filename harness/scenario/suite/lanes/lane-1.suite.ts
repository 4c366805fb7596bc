/**
 * Lane 1 of a concurrent scenario run (harness/scenario/suite/lanes.ts): the scenario suite for the
 * run plan's lane 1, in a worker process of its own. Static imports would load the suite before the
 * lane is set, hence the dynamic import.
 */
process.env.OTWIN_LANE = '1';
await import('../scenarios.suite.ts');
