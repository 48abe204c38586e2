#!/usr/bin/env python3
"""The peer of `cargo xtask bench`: the collection of `sfconn collect -f json`, written the way
a simple-salesforce user would write it: the refresh-token grant with requests (simple-salesforce
has none), then `query_all` for each object with the same fields, the assignment joins in
dictionaries, one JSON document out.

Usage: peer_simple_salesforce.py OUTPUT.json
Reads SFCONN_LOGIN_URL, SFCONN_CLIENT_ID, SFCONN_CLIENT_SECRET and SFCONN_REFRESH_TOKEN (the
simulated org's loopback credentials). Prints {"users": N, "requests": R} on stdout.
"""

import json
import os
import sys
from urllib.parse import urlparse

import requests
from simple_salesforce import Salesforce

LOOPBACK = {"127.0.0.1", "localhost", "::1"}

# The same SELECT lists sfconn sends when every field is visible (docs/api-calls.md).
QUERIES = {
    "Organization": "SELECT Id, Name, OrganizationType, IsSandbox, InstanceName FROM Organization ORDER BY Id",
    "UserLicense": "SELECT Id, Name, MasterLabel, LicenseDefinitionKey, Status, TotalLicenses, UsedLicenses "
    "FROM UserLicense ORDER BY Id",
    "Profile": "SELECT Id, Name, UserType, UserLicenseId, Description FROM Profile ORDER BY Id",
    "PermissionSetLicense": "SELECT Id, DeveloperName, MasterLabel, PermissionSetLicenseKey, Status, "
    "ExpirationDate, TotalLicenses, UsedLicenses FROM PermissionSetLicense ORDER BY Id",
    "PackageLicense": "SELECT Id, NamespacePrefix, AllowedLicenses, UsedLicenses, Status, ExpirationDate "
    "FROM PackageLicense ORDER BY Id",
    "PermissionSetLicenseAssign": "SELECT Id, AssigneeId, PermissionSetLicenseId FROM PermissionSetLicenseAssign "
    "ORDER BY Id",
    "UserPackageLicense": "SELECT Id, UserId, PackageLicenseId FROM UserPackageLicense ORDER BY Id",
    "User": "SELECT Id, Username, IsActive, UserType, Email, Name, FirstName, LastName, Alias, ProfileId, "
    "Profile.UserLicenseId, LastLoginDate, CreatedDate, CompanyName, Department, Title, City, Country, "
    "CountryCode, FederationIdentifier FROM User ORDER BY Id",
}

ACCOUNT_KINDS = {
    "standard": "internal",
    "powerpartner": "partner",
    "powercustomersuccess": "customer",
    "customersuccess": "customer",
    "cspliteportal": "customer",
    "selfservice": "customer",
    "csnonly": "chatter",
    "guest": "guest",
    "automatedprocess": "system",
    "cloudintegrationuser": "system",
    "licensemanager": "system",
}


class LoopbackHttp(requests.Session):
    """simple-salesforce writes `https://` into every URL it builds; the simulated org serves
    plain http on loopback. This session sends those requests over http, for loopback hosts
    only."""

    def request(self, method, url, *args, **kwargs):
        host = urlparse(url).hostname
        if url.startswith("https://") and host in LOOPBACK:
            url = "http://" + url[len("https://"):]
        return super().request(method, url, *args, **kwargs)


class CountingHttp(LoopbackHttp):
    count = 0

    def request(self, method, url, *args, **kwargs):
        CountingHttp.count += 1
        return super().request(method, url, *args, **kwargs)


def rfc3339(value):
    """Salesforce's 2024-01-15T10:30:00.000+0000 as 2024-01-15T10:30:00Z."""
    if value is None:
        return None
    return value[:19] + "Z"


def domain(email):
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].lower()


def main():
    output = sys.argv[1]
    login_url = os.environ["SFCONN_LOGIN_URL"].rstrip("/")
    if urlparse(login_url).hostname not in LOOPBACK:
        sys.exit("the bench peer only talks to the simulated org on loopback")
    session = CountingHttp()
    grant = session.post(
        f"{login_url}/services/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": os.environ["SFCONN_CLIENT_ID"],
            "client_secret": os.environ["SFCONN_CLIENT_SECRET"],
            "refresh_token": os.environ["SFCONN_REFRESH_TOKEN"],
        },
        timeout=60,
    )
    grant.raise_for_status()
    token = grant.json()
    sf = Salesforce(instance_url=token["instance_url"], session_id=token["access_token"], session=session)

    rows = {name: sf.query_all(soql)["records"] for name, soql in QUERIES.items()}

    org = rows["Organization"][0]
    subscriptions = []
    for r in rows["UserLicense"]:
        subscriptions.append({
            "source": "user_license", "id": r["Id"], "name": r["Name"], "label": r["MasterLabel"],
            "key": r["LicenseDefinitionKey"], "status": r["Status"],
            "total": r["TotalLicenses"], "used": r["UsedLicenses"],
        })
    for r in rows["PermissionSetLicense"]:
        subscriptions.append({
            "source": "permission_set_license", "id": r["Id"], "name": r["DeveloperName"],
            "label": r["MasterLabel"], "key": r["PermissionSetLicenseKey"], "status": r["Status"],
            "expires": r["ExpirationDate"], "total": r["TotalLicenses"], "used": r["UsedLicenses"],
        })
    for r in rows["PackageLicense"]:
        subscriptions.append({
            "source": "package_license", "id": r["Id"], "name": r["NamespacePrefix"], "status": r["Status"],
            "expires": rfc3339(r["ExpirationDate"]), "total": r["AllowedLicenses"], "used": r["UsedLicenses"],
        })
    profiles = [
        {"id": r["Id"], "name": r["Name"], "user_type": r["UserType"], "user_license_id": r["UserLicenseId"],
         "description": r["Description"]}
        for r in rows["Profile"]
    ]

    psl = {}
    for r in rows["PermissionSetLicenseAssign"]:
        psl.setdefault(r["AssigneeId"], []).append(r["PermissionSetLicenseId"])
    packages = {}
    for r in rows["UserPackageLicense"]:
        packages.setdefault(r["UserId"], []).append(r["PackageLicenseId"])

    users = []
    for r in rows["User"]:
        profile = r["Profile"] or {}
        user_type = r["UserType"] or ""
        users.append({
            "id": r["Id"], "username": r["Username"], "email": r["Email"], "email_domain": domain(r["Email"]),
            "name": r["Name"], "first_name": r["FirstName"], "last_name": r["LastName"], "alias": r["Alias"],
            "active": r["IsActive"], "user_type": user_type,
            "account_kind": ACCOUNT_KINDS.get(user_type.lower(), "other"),
            "profile_id": r["ProfileId"], "user_license_id": profile.get("UserLicenseId"),
            "permission_set_license_ids": psl.get(r["Id"], []),
            "package_license_ids": packages.get(r["Id"], []),
            "last_login_at": rfc3339(r["LastLoginDate"]), "created_at": rfc3339(r["CreatedDate"]),
            "company_name": r["CompanyName"], "department": r["Department"], "title": r["Title"],
            "city": r["City"], "country": r["Country"], "country_code": r["CountryCode"],
            "federation_id": r["FederationIdentifier"],
        })

    document = {
        "organization": {"id": org["Id"], "name": org["Name"], "edition": org["OrganizationType"],
                         "is_sandbox": org["IsSandbox"], "instance": org["InstanceName"]},
        "subscriptions": subscriptions,
        "profiles": profiles,
        "users": users,
        "summary": {"users_total": len(users), "api_requests": CountingHttp.count},
    }
    temporary = output + ".tmp"
    with open(temporary, "w", encoding="utf-8") as out:
        json.dump(document, out, indent=2)
        out.write("\n")
    os.replace(temporary, output)
    print(json.dumps({"users": len(users), "requests": CountingHttp.count}))


if __name__ == "__main__":
    main()
