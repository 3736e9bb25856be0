// A real OpenID Connect provider for the ENT login tests: panva's oidc-provider (OpenID
// certified), with its development login form (any login, the account is the login typed).
//
//   node server.mjs CONFIG.json
//
// CONFIG: {"issuer": "http://127.0.0.1:PORT", "port": PORT, "flavour": "oidc" | "entcore",
//          "client": {"client_id", "client_secret", "redirect_uris", "post_logout_redirect_uris"},
//          "accounts": {"<login>": {claims}}}
//
// flavour "entcore" serves entcore's OAuth2 addresses (/auth/oauth2/auth, /auth/oauth2/token
// with the client's secret in HTTP Basic, /auth/oauth2/userinfo) and its userinfo fields under
// its scope "userinfo". oidc-provider answers userinfo only to tokens with the openid scope, which
// entcore does not ask for: this flavour adds it to the authorization request, as entcore itself
// needs no such scope.
import { readFileSync } from "node:fs";
import Provider from "oidc-provider";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const entcore = config.flavour === "entcore";
const ENTCORE_FIELDS = ["userId", "externalId", "login", "username", "firstName", "lastName", "type", "uai"];

const provider = new Provider(config.issuer, {
  clients: [{ token_endpoint_auth_method: "client_secret_basic", ...config.client }],
  async findAccount(ctx, id) {
    const claims = config.accounts[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
  claims: entcore
    ? { openid: ["sub"], userinfo: ENTCORE_FIELDS }
    : { openid: ["sub"], profile: ["given_name", "family_name", "preferred_username"],
        ent: ["externalId", "type", "uai"] },
  scopes: entcore ? ["openid", "userinfo"] : ["openid", "profile", "ent", "offline_access"],
  routes: entcore
    ? { authorization: "/auth/oauth2/auth", token: "/auth/oauth2/token", userinfo: "/auth/oauth2/userinfo" }
    : {},
  pkce: { required: () => false },
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  cookies: { keys: ["jhub-admin-tests-only"] },
});

if (entcore) {
  provider.use(async (ctx, next) => {
    if (ctx.path === "/auth/oauth2/auth" && ctx.query.scope && !ctx.query.scope.split(" ").includes("openid")) {
      ctx.query = { ...ctx.query, scope: `openid ${ctx.query.scope}` };
    }
    await next();
  });
}

provider.listen(config.port, "127.0.0.1", () => {
  console.log(`oidc-provider (${config.flavour}) listening at ${config.issuer}`);
});
