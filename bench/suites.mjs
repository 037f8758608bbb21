// The suites, in the order `pnpm bench` runs them.
import * as core from './core/suite.mjs';

export const suites = [core];
