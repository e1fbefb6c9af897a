export { seededRandom } from '../random.ts';
export { endpoint, FakeResolver } from './fake-resolver.ts';
export { FakeRuleSource } from './fake-rule-source.ts';
export { ManualClock } from './manual-clock.ts';
