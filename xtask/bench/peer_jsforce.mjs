// The second peer of `cargo xtask bench`: the collection of `sfconn collect -f json`, written
// the way a jsforce user would write it: jsforce's own refresh-token grant (OAuth2), then every
// object's records with `conn.query(soql, { autoFetch: true })` and sfconn's field lists, the
// assignment joins in maps, the same per-user mapping as the simple-salesforce peer, one JSON
// document out.
//
// Unlike the Python peer, the eight queries run at once (`Promise.all`, within jsforce's own
// cap of 10 requests in flight): that is how JavaScript code is written, and it makes this peer
// the stronger of the two on wall time.
//
// Usage: node peer_jsforce.mjs OUTPUT.json NODE_PREFIX
// NODE_PREFIX is the `npm install --prefix` directory holding jsforce (target/bench/node).
// Reads SFCONN_LOGIN_URL, SFCONN_CLIENT_ID, SFCONN_CLIENT_SECRET and SFCONN_REFRESH_TOKEN (the
// simulated org's loopback credentials). Prints {"users": N, "requests": R} on stdout.

import { open, rename } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);
// simple-salesforce 1.12's default, so both peers ask for the same version.
const API_VERSION = "59.0";

// The same SELECT lists sfconn sends when every field is visible (docs/api-calls.md).
const QUERIES = {
  Organization: "SELECT Id, Name, OrganizationType, IsSandbox, InstanceName FROM Organization ORDER BY Id",
  UserLicense:
    "SELECT Id, Name, MasterLabel, LicenseDefinitionKey, Status, TotalLicenses, UsedLicenses " +
    "FROM UserLicense ORDER BY Id",
  Profile: "SELECT Id, Name, UserType, UserLicenseId, Description FROM Profile ORDER BY Id",
  PermissionSetLicense:
    "SELECT Id, DeveloperName, MasterLabel, PermissionSetLicenseKey, Status, " +
    "ExpirationDate, TotalLicenses, UsedLicenses FROM PermissionSetLicense ORDER BY Id",
  PackageLicense:
    "SELECT Id, NamespacePrefix, AllowedLicenses, UsedLicenses, Status, ExpirationDate " +
    "FROM PackageLicense ORDER BY Id",
  PermissionSetLicenseAssign:
    "SELECT Id, AssigneeId, PermissionSetLicenseId FROM PermissionSetLicenseAssign ORDER BY Id",
  UserPackageLicense: "SELECT Id, UserId, PackageLicenseId FROM UserPackageLicense ORDER BY Id",
  User:
    "SELECT Id, Username, IsActive, UserType, Email, Name, FirstName, LastName, Alias, ProfileId, " +
    "Profile.UserLicenseId, LastLoginDate, CreatedDate, CompanyName, Department, Title, City, Country, " +
    "CountryCode, FederationIdentifier FROM User ORDER BY Id",
};

const ACCOUNT_KINDS = {
  standard: "internal",
  powerpartner: "partner",
  powercustomersuccess: "customer",
  customersuccess: "customer",
  cspliteportal: "customer",
  selfservice: "customer",
  csnonly: "chatter",
  guest: "guest",
  automatedprocess: "system",
  cloudintegrationuser: "system",
  licensemanager: "system",
};

/** Salesforce's 2024-01-15T10:30:00.000+0000 as 2024-01-15T10:30:00Z. */
function rfc3339(value) {
  return value == null ? null : value.slice(0, 19) + "Z";
}

function domain(email) {
  if (!email || !email.includes("@")) return null;
  return email.slice(email.lastIndexOf("@") + 1).toLowerCase();
}

function group(rows, key, value) {
  const map = new Map();
  for (const r of rows) {
    const list = map.get(r[key]);
    if (list) list.push(r[value]);
    else map.set(r[key], [r[value]]);
  }
  return map;
}

async function main() {
  const [output, prefix] = process.argv.slice(2);
  if (!output || !prefix) throw new Error("usage: peer_jsforce.mjs OUTPUT.json NODE_PREFIX");
  const jsforce = createRequire(join(prefix, "package.json"))("jsforce");
  const loginUrl = process.env.SFCONN_LOGIN_URL.replace(/\/+$/, "");
  if (!LOOPBACK.has(new URL(loginUrl).hostname)) {
    throw new Error("the bench peer only talks to the simulated org on loopback");
  }
  let requests = 0;
  const oauth2 = new jsforce.OAuth2({
    loginUrl,
    clientId: process.env.SFCONN_CLIENT_ID,
    clientSecret: process.env.SFCONN_CLIENT_SECRET,
  });
  const token = await oauth2.refreshToken(process.env.SFCONN_REFRESH_TOKEN);
  requests += 1;
  if (!LOOPBACK.has(new URL(token.instance_url).hostname)) {
    throw new Error("the bench peer only talks to the simulated org on loopback");
  }
  const conn = new jsforce.Connection({
    instanceUrl: token.instance_url,
    accessToken: token.access_token,
    version: API_VERSION,
  });

  const fetchAll = async (soql) => {
    const query = conn.query(soql, { autoFetch: true, maxFetch: Number.MAX_SAFE_INTEGER });
    query.on("fetch", () => {
      requests += 1;
    });
    return (await query).records;
  };
  const names = Object.keys(QUERIES);
  const fetched = await Promise.all(names.map((name) => fetchAll(QUERIES[name])));
  const rows = Object.fromEntries(names.map((name, i) => [name, fetched[i]]));

  const org = rows.Organization[0];
  const subscriptions = [];
  for (const r of rows.UserLicense) {
    subscriptions.push({
      source: "user_license", id: r.Id, name: r.Name, label: r.MasterLabel,
      key: r.LicenseDefinitionKey, status: r.Status, total: r.TotalLicenses, used: r.UsedLicenses,
    });
  }
  for (const r of rows.PermissionSetLicense) {
    subscriptions.push({
      source: "permission_set_license", id: r.Id, name: r.DeveloperName, label: r.MasterLabel,
      key: r.PermissionSetLicenseKey, status: r.Status, expires: r.ExpirationDate,
      total: r.TotalLicenses, used: r.UsedLicenses,
    });
  }
  for (const r of rows.PackageLicense) {
    subscriptions.push({
      source: "package_license", id: r.Id, name: r.NamespacePrefix, status: r.Status,
      expires: rfc3339(r.ExpirationDate), total: r.AllowedLicenses, used: r.UsedLicenses,
    });
  }
  const profiles = rows.Profile.map((r) => ({
    id: r.Id, name: r.Name, user_type: r.UserType, user_license_id: r.UserLicenseId,
    description: r.Description,
  }));

  const psl = group(rows.PermissionSetLicenseAssign, "AssigneeId", "PermissionSetLicenseId");
  const packages = group(rows.UserPackageLicense, "UserId", "PackageLicenseId");

  const user = (r) => {
    const userType = r.UserType ?? "";
    return {
      id: r.Id, username: r.Username, email: r.Email, email_domain: domain(r.Email),
      name: r.Name, first_name: r.FirstName, last_name: r.LastName, alias: r.Alias,
      active: r.IsActive, user_type: userType,
      account_kind: ACCOUNT_KINDS[userType.toLowerCase()] ?? "other",
      profile_id: r.ProfileId, user_license_id: r.Profile?.UserLicenseId ?? null,
      permission_set_license_ids: psl.get(r.Id) ?? [],
      package_license_ids: packages.get(r.Id) ?? [],
      last_login_at: rfc3339(r.LastLoginDate), created_at: rfc3339(r.CreatedDate),
      company_name: r.CompanyName, department: r.Department, title: r.Title,
      city: r.City, country: r.Country, country_code: r.CountryCode,
      federation_id: r.FederationIdentifier,
    };
  };

  // One JSON document, the bytes `JSON.stringify(document, null, 2)` would give, written a user
  // at a time: at a million users the whole text is longer than V8's longest string.
  const head = {
    organization: {
      id: org.Id, name: org.Name, edition: org.OrganizationType, is_sandbox: org.IsSandbox,
      instance: org.InstanceName,
    },
    subscriptions,
    profiles,
  };
  const indent = (text, by) => text.replaceAll("\n", "\n" + by);
  const temporary = output + ".tmp";
  const file = await open(temporary, "w");
  let buffer = JSON.stringify(head, null, 2).slice(0, -2) + ',\n  "users": [';
  for (let i = 0; i < rows.User.length; i++) {
    buffer += (i ? "," : "") + "\n    " + indent(JSON.stringify(user(rows.User[i]), null, 2), "    ");
    if (buffer.length > 1 << 20) {
      await file.write(buffer);
      buffer = "";
    }
  }
  const summary = { users_total: rows.User.length, api_requests: requests };
  buffer += (rows.User.length ? "\n  ]" : "]") + ',\n  "summary": ' + indent(JSON.stringify(summary, null, 2), "  ");
  await file.write(buffer + "\n}\n");
  await file.close();
  await rename(temporary, output);
  console.log(JSON.stringify({ users: rows.User.length, requests }));
}

main().catch((error) => {
  console.error(error?.stack ?? String(error));
  process.exit(1);
});
