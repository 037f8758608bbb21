// The suites, in the order `pnpm bench` runs them.
import * as canary from './canary/suite.mjs';
import * as controlPlane from './control-plane/suite.mjs';
import * as core from './core/suite.mjs';
import * as experiments from './experiments/suite.mjs';
import * as sdk from './sdk/suite.mjs';

export const suites = [core, controlPlane, sdk, canary, experiments];
