// A real OpenID Connect issuer for the console's sign-in test: the certified `oidc-provider` package (npm,
// pinned in package.json), run with Node. One client, the console (PKCE required); test accounts whose
// claims carry `roles` and `member_state` as the APIs' tokens do; access tokens that are RS256 JWTs for the
// APIs (audience `uncops`, with the same claims), ID tokens with the claims in them; its own development
// login and consent pages.
//
//   node tests/e2e/oidc_issuer.mjs  (environment: OIDC_PORT, CONSOLE_URL, OIDC_CLIENT_SECRET)
import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT);
const consoleUrl = process.env.CONSOLE_URL;
const issuer = `http://127.0.0.1:${port}`;

// The people the test signs in as: the login name typed on the issuer's page picks one.
const ACCOUNTS = {
  officer: { name: 'Aminata Diallo', roles: ['conduct_officer'] },
  'focal-sen': { name: 'Moussa Ndiaye', roles: ['state_focal_point'], member_state: 'SEN' },
  'focal-nostate': { name: 'Nadia Stateless', roles: ['state_focal_point'] },
  partner: { name: 'Pat Partner', roles: 'partner' },
};

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: 'test-rs256', alg: 'RS256', use: 'sig' };
}

function claimsOf(id) {
  const account = ACCOUNTS[id] ?? { name: id, roles: [] };
  const claims = { sub: id, name: account.name, roles: account.roles };
  if (account.member_state) claims.member_state = account.member_state;
  return claims;
}

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'uncops-console',
      client_secret: process.env.OIDC_CLIENT_SECRET,
      redirect_uris: [`${consoleUrl}/sign-in/callback`],
      post_logout_redirect_uris: [`${consoleUrl}/sign-in`],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [signingKey()] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'roles'],
  claims: { openid: ['sub'], profile: ['name'], roles: ['roles', 'member_state'] },
  // The claims in the ID token of the code flow too (as identity providers configured for roles do).
  conformIdTokenClaims: false,
  async findAccount(ctx, id) {
    return { accountId: id, claims: async () => claimsOf(id) };
  },
  async extraTokenClaims(ctx, token) {
    if (!token.accountId) return undefined;
    const { roles, member_state } = claimsOf(token.accountId);
    return member_state ? { roles, member_state } : { roles };
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => 'urn:uncops:apis',
      useGrantedResource: async () => true,
      getResourceServerInfo: async () => ({
        scope: 'uncops',
        audience: 'uncops',
        accessTokenFormat: 'jwt',
        accessTokenTTL: 3600,
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc issuer ${issuer} for ${consoleUrl}`);
});
