import { describe, expect, it } from 'vitest';
import { normal, twoProportionZTest } from '../../src/stats/index';

// Values printed by R 4.x (`sprintf("%.17g", …)`); the full grids live in fixtures/r-fixtures.json.
const close = (actual: number, expected: number, rel = 5e-7) =>
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.abs(expected) + 1e-300);

describe('normal', () => {
  it('log tails agree with R pnorm(log.p = TRUE)', () => {
    close(normal.logCdf(-40), -804.6084420137538);
    close(normal.logSf(37), -689.03058557689064);
    close(normal.logSf(20), -203.91715537109727);
    close(normal.logCdf(20), -2.7536241186062337e-89);
    close(normal.logCdf(-2.5), -5.0816482772786902);
    close(normal.logSf(0.3), -0.96210281816885079);
  });
  it('quantiles agree with R qnorm', () => {
    close(normal.quantile(1e-300), -37.047096299361201);
    close(normal.quantile(1e-20), -9.2623400897984052);
    close(normal.quantile(0.975), 1.9599639845400536);
    close(normal.quantile(0.999999), 4.7534243088170891);
    expect(normal.quantile(0.5)).toBe(0);
    expect(normal.quantile(2)).toBeNaN();
  });
});

describe('twoProportionZTest', () => {
  it('matches R prop.test(c(15, 25), c(50, 50), correct = FALSE)', () => {
    const r = twoProportionZTest({ successes: 15, trials: 50 }, { successes: 25, trials: 50 });
    close(r.chiSquare, 4.166666666666667);
    close(r.pValue, 0.04122683);
    close(r.ci[0], -0.38799314123229556);
    close(r.ci[1], -0.012006858767704465);
    expect(r.difference).toBeCloseTo(-0.2, 15);
  });
  it('rejects impossible counts', () => {
    expect(() => twoProportionZTest({ successes: 3, trials: 2 }, { successes: 1, trials: 2 })).toThrow(
      RangeError,
    );
  });
});
