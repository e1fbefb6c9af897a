export { LinearRegex, MAX_REGEX_INPUT_LENGTH } from './linear-regex.ts';
export { MAX_REGEX_STATES } from './regex-nfa.ts';
export { MAX_REGEX_LENGTH, regexProblem } from './regex-safety.ts';
export type {
  FaultDecision,
  MirrorDecision,
  RouteDecision,
  RouteInfo,
  RouteRetry,
} from './route-decision.ts';
export { type CompiledMatch, compileMatch, matchesRequest, type RouteRequest } from './route-match.ts';
export { compileRoutes, defaultRouteTable, RouteTable } from './route-table.ts';
export {
  destinationSchema,
  faultSchema,
  isCatchAll,
  matchSchema,
  type RouteDestination,
  type RouteMatch,
  type RouteRule,
  type RoutesRule,
  routeSchema,
  routesRuleSchema,
  routesSection,
  type SubsetDefinition,
  stickySchema,
  subsetSchema,
} from './routes-schema.ts';
export { cookieValue, hashKey, stickyPoint } from './sticky-key.ts';
export {
  compileStringMatch,
  matchString,
  regexSchema,
  type StringMatch,
  type StringMatcher,
  stringMatchSchema,
  type ValueMatch,
  valueMatchSchema,
} from './string-match.ts';
export {
  type EndpointFilter,
  hasEndpointsIn,
  partitionBySubset,
  patchSubset,
  type SubsetFilters,
  subsetFilter,
  subsetFilters,
} from './subset.ts';
