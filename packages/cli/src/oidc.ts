// GitHub Actions OIDC: with `permissions: id-token: write`, the runner exposes a URL and a bearer token that
// mint a short-lived JWT for a chosen audience. The control plane verifies it against GitHub's JWKS and maps
// its claims (repository, environment, ...) to a role (OIDC_ROLE_MAPPING).
import { CliApiError } from './errors';

export const DEFAULT_OIDC_AUDIENCE = 'rupaya';

export async function fetchGithubOidcToken(
  env: Record<string, string | undefined>,
  audience: string,
  fetchImpl: typeof fetch = fetch,
): Promise<string> {
  const requestUrl = env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const requestToken = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (!requestUrl || !requestToken) {
    throw new CliApiError(
      'OIDC_UNAVAILABLE',
      'ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set: run inside GitHub Actions with `permissions: id-token: write`',
    );
  }
  const url = new URL(requestUrl);
  url.searchParams.set('audience', audience);
  let res: Response;
  try {
    res = await fetchImpl(url, {
      headers: { authorization: `Bearer ${requestToken}`, accept: 'application/json' },
    });
  } catch (err) {
    throw new CliApiError(
      'OIDC_UNAVAILABLE',
      `cannot reach the OIDC token endpoint: ${(err as Error).message}`,
    );
  }
  const text = await res.text();
  if (!res.ok) {
    throw new CliApiError('OIDC_UNAVAILABLE', `the OIDC token endpoint answered ${res.status}`, res.status);
  }
  let value: unknown;
  try {
    value = (JSON.parse(text) as { value?: unknown }).value;
  } catch {
    value = undefined;
  }
  if (typeof value !== 'string' || value.length === 0) {
    throw new CliApiError('OIDC_UNAVAILABLE', 'the OIDC token endpoint answered without a token (`value`)');
  }
  return value;
}
