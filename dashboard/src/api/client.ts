// Calls /api/v1/<Method> of the agent's HTTP face. Reads need no token on loopback; changes send
// the API token kept in sessionStorage (entered in the header's token dialog).

const TOKEN_KEY = 'netguard.token';

/** The API token of this browser tab, '' when none was entered. */
export function getToken(): string {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

/** Keeps `token` for this tab only ('' forgets it). */
export function setToken(token: string): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  window.dispatchEvent(new Event('netguard-token'));
}

/** A failed call: the HTTP status and the agent's gRPC status name and message. */
export class ApiError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The agent does not implement this method (yet). */
  get unimplemented(): boolean {
    return this.code === 'UNIMPLEMENTED';
  }

  /** The change needs the API token (missing or wrong). */
  get needsToken(): boolean {
    return this.code === 'UNAUTHENTICATED' || this.code === 'PERMISSION_DENIED';
  }
}

/** Headers of every call: JSON, and the token when there is one. */
export function authHeaders(): Record<string, string> {
  const token = getToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** POSTs `request` to `method`; resolves with the reply or rejects with an ApiError. */
export async function call<T>(method: string, request: object = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`/api/v1/${method}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...authHeaders() },
      body: JSON.stringify(request),
    });
  } catch (e) {
    throw new ApiError(0, 'UNAVAILABLE', `the agent cannot be reached (${String(e)})`);
  }
  const text = await response.text();
  let body: unknown = undefined;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    // not JSON: a proxy's error page, for instance
  }
  if (!response.ok) {
    const err = (body ?? {}) as { status?: string; message?: string };
    throw new ApiError(
      response.status,
      err.status ?? `HTTP_${response.status}`,
      err.message ?? (text || response.statusText),
    );
  }
  return body as T;
}

/** A one-line explanation of any error for the UI. */
export function describeError(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.needsToken) return `${e.message}. Enter the API token (key icon, top right).`;
    if (e.code === 'UNAVAILABLE') return `Agent unavailable: ${e.message}`;
    return `${e.code}: ${e.message}`;
  }
  return String(e);
}
